package dev.qmpx.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A FAKE QEMU, for faults a real one cannot produce on demand: after negotiation, replies with an
 * id nobody sent, replies without an id, and output that is not JSON. The proxy must drop and log
 * each, and still route the real reply to its client.
 */
class FakeQemuIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
            + "\"package\": \"fake\"}, \"capabilities\": [\"oob\"]}}\r\n";

    @Test
    void repliesWithUnknownIdsNoIdsOrGarbageAreDroppedAndLogged() throws Exception {
        try (WorkDir dir = new WorkDir();
             AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(dir.resolve("fake.sock")))) {
            Thread fake = Thread.ofPlatform().start(() -> serve(server));
            Path listen = dir.resolve("p.sock");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", dir.resolve("fake.sock").toString(), "--listen", listen.toString()));
                 QmpClient client = QmpClient.negotiated(listen, TIMEOUT)) {
                assertEquals(GREETING.strip(), client.greeting());
                assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": \"mine\"}",
                        client.execute("{\"execute\": \"query-status\", \"id\": \"mine\"}", TIMEOUT));
                proxy.awaitLog("reply from QEMU with unknown id dropped", TIMEOUT);
                proxy.awaitLog("reply from QEMU without id dropped", TIMEOUT);
                proxy.awaitLog("QEMU sent output that is not JSON, dropped", TIMEOUT);
                assertEquals("{\"return\": {}, \"id\": 2}", client.execute("{\"execute\": \"query-name\", \"id\": 2}", TIMEOUT));
                assertTrue(client.events().isEmpty());
            }
            fake.join(TIMEOUT.toMillis());
        }
    }

    /** Plays QEMU for one connection; for query-status it first sends three bad lines. */
    private static void serve(AFUNIXServerSocket server) {
        try (AFUNIXSocket socket = server.accept()) {
            OutputStream out = socket.getOutputStream();
            write(out, GREETING);
            MappingIterator<JsonNode> commands = MAPPER.readerFor(JsonNode.class).readValues(socket.getInputStream());
            while (commands.hasNext()) {
                JsonNode command = commands.next();
                String id = MAPPER.writeValueAsString(command.get("id"));
                switch (command.path("execute").asText()) {
                    case "qmp_capabilities" -> write(out, "{\"return\": {}, \"id\": " + id + "}\r\n");
                    case "query-commands" -> write(out, "{\"return\": [{\"name\": \"query-status\"}, {\"name\": \"query-name\"}], \"id\": " + id + "}\r\n");
                    case "query-status" -> {
                        write(out, "{\"return\": {}, \"id\": 9999}\r\n");
                        write(out, "{\"return\": {}}\r\n");
                        write(out, "garbage!!\r\n");
                        write(out, "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": " + id + "}\r\n");
                    }
                    default -> write(out, "{\"return\": {}, \"id\": " + id + "}\r\n");
                }
            }
        } catch (IOException e) {
            // The proxy closed the connection at the end of the test.
        }
    }

    private static void write(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
