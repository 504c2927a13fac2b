package dev.qmpx.broker.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A client of the open-hook protocol: asks a guest's broker socket for a file and receives the fd.
 * One request at a time per instance (synchronized); platform threads only.
 */
public final class OpenHookClient implements Closeable {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final AtomicLong ids = new AtomicLong();
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

    private OpenHookClient(AFUNIXSocket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        socket.setAncillaryReceiveBufferSize(1024);
    }

    public static OpenHookClient connect(Path hookSocket) throws IOException {
        return connect(hookSocket, java.time.Duration.ofSeconds(30));
    }

    /** @param timeout how long one request may wait for the broker's answer */
    public static OpenHookClient connect(Path hookSocket, java.time.Duration timeout) throws IOException {
        AFUNIXSocket socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(hookSocket));
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        return new OpenHookClient(socket);
    }

    /** The broker's refusal: its error class and description. */
    public static final class Denied extends IOException {
        private final String errorClass;

        public Denied(String errorClass, String desc) {
            super(errorClass + ": " + desc);
            this.errorClass = errorClass;
        }

        public String errorClass() {
            return errorClass;
        }
    }

    /**
     * Opens path through the broker; the caller owns (and closes) the returned descriptor, which
     * stays valid after this client is closed.
     */
    public synchronized FileDescriptor open(String path, boolean write, boolean create) throws IOException {
        long id = ids.incrementAndGet();
        ObjectNode request = MAPPER.createObjectNode().put("open", path).put("access", write ? "rw" : "r")
                .put("create", create).put("id", id);
        out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        JsonNode reply = MAPPER.readTree(readLine());
        FileDescriptor[] fds = socket.getReceivedFileDescriptors();
        if (reply.path("id").asLong() != id) {
            throw new IOException("broker reply for another request: " + reply);
        }
        JsonNode error = reply.get("error");
        if (error != null) {
            throw new Denied(error.path("class").asText(), error.path("desc").asText());
        }
        if (fds.length != 1) {
            throw new IOException("broker granted " + path + " but sent " + fds.length + " fds");
        }
        // junixsocket closes received fds with their socket: hand the caller its own duplicate.
        FileDescriptor own = FileDescriptorCast.duplicating(fds[0]).getFileDescriptor();
        new java.io.FileInputStream(fds[0]).close();
        return own;
    }

    /** Removes a file this guest created through the broker (undo of a create). */
    public synchronized void unlink(String path) throws IOException {
        long id = ids.incrementAndGet();
        ObjectNode request = MAPPER.createObjectNode().put("unlink", path).put("id", id);
        out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        JsonNode reply = MAPPER.readTree(readLine());
        JsonNode error = reply.get("error");
        if (error != null) {
            throw new Denied(error.path("class").asText(), error.path("desc").asText());
        }
    }

    private String readLine() throws IOException {
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the broker closed the connection");
            }
            if (b == '\n') {
                String line = partial.toString(StandardCharsets.UTF_8);
                partial.reset();
                return line;
            }
            partial.write(b);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
