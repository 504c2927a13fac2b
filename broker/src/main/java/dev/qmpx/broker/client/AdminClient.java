package dev.qmpx.broker.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Sends one request to the broker's admin socket and returns its reply (return or error). */
public final class AdminClient {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private AdminClient() {
    }

    public static ObjectNode request(String op) {
        return MAPPER.createObjectNode().put("op", op);
    }

    public static JsonNode call(Path adminSocket, ObjectNode request) throws IOException {
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(adminSocket))) {
            OutputStream out = socket.getOutputStream();
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            String line = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)).readLine();
            if (line == null) {
                throw new IOException("the broker closed the admin connection without a reply");
            }
            return MAPPER.readTree(line);
        }
    }
}
