package dev.qmpx.shell;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One QMP connection: the greeting, then commands written by the main thread and everything the
 * server sends read by a {@code qmp-reader} platform thread (junixsocket blocks; never a virtual
 * thread), which hands events and replies to a {@link Listener} in arrival order.
 *
 * <p>Ownership: the socket's output and the id counter belong to the main thread; its input to the
 * reading thread (the main thread reads only the greeting, before that thread starts). The queue
 * of commands awaiting their reply is shared: the main thread adds, the reading thread takes, in
 * order, since a QMP server answers a connection's commands in order. {@code lost} is set once,
 * by whichever thread first finds the connection gone, and fails every command still waiting.
 */
final class QmpSession implements AutoCloseable {
    static final Duration GREETING_TIMEOUT = Duration.ofSeconds(10);

    /** What the reading thread finds, on that thread ({@link #lost} also on the main thread when a send fails). */
    interface Listener {
        void event(String line, JsonNode event);

        /** A reply to be shown: to a command sent with {@code shown}, or one nobody waits for. */
        void reply(String line, JsonNode reply);

        /** A line that is not JSON; QEMU and qmpx never send one. */
        void unparsable(String line);

        /** The connection is gone, {@link #lost()} says why (not called after {@link #close}). */
        void lost();
    }

    private record Waiting(boolean shown, CompletableFuture<JsonNode> reply) {
    }

    private final Path path;
    private final AFUNIXSocket socket;
    private final BufferedReader in;
    private final OutputStream out;
    private final SessionLog log;
    private final String greetingLine;
    private final JsonNode greeting;
    private final Queue<Waiting> waiting = new ConcurrentLinkedQueue<>();
    private final AtomicReference<String> lost = new AtomicReference<>();
    /** Set by {@link #close}, so that the reading thread's end is not reported as a loss. */
    private volatile boolean closing;
    /** Set by {@link #start} before the reading thread exists, never changed. */
    private Listener listener;
    /** Main thread only. */
    private long nextId = 1;

    private QmpSession(Path path, AFUNIXSocket socket, BufferedReader in, SessionLog log, String greetingLine,
                       JsonNode greeting) throws IOException {
        this.path = path;
        this.socket = socket;
        this.in = in;
        this.out = socket.getOutputStream();
        this.log = log;
        this.greetingLine = greetingLine;
        this.greeting = greeting;
    }

    /** Connects and reads the greeting (QEMU sends it at once unless another client holds its monitor). */
    static QmpSession connect(Path path, SessionLog log) throws IOException {
        AFUNIXSocket socket;
        try {
            socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
        } catch (IOException e) {
            throw new IOException("cannot connect to " + path + ": " + e.getMessage(), e);
        }
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            socket.setSoTimeout((int) GREETING_TIMEOUT.toMillis());
            String line;
            try {
                line = in.readLine();
            } catch (SocketTimeoutException e) {
                throw new IOException("no QMP greeting from " + path + " within " + GREETING_TIMEOUT.toSeconds()
                        + " s (QEMU's own monitor serves one client at a time: is another one connected?)", e);
            }
            if (line == null) {
                throw new IOException(path + " closed the connection without a greeting");
            }
            log.received(line);
            JsonNode greeting = parse(line);
            if (greeting == null || !greeting.has("QMP")) {
                throw new IOException(path + " is not a QMP monitor; it sent: " + line);
            }
            socket.setSoTimeout(0);
            return new QmpSession(path, socket, in, log, line, greeting);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    String greetingLine() {
        return greetingLine;
    }

    JsonNode greeting() {
        return greeting;
    }

    /** Starts the reading thread; call once, before the first {@link #execute}. */
    void start(Listener listener) {
        this.listener = listener;
        Thread.ofPlatform().name("qmp-reader").daemon().start(this::readLoop);
    }

    /**
     * Sends a command (with the next id of the shell's own unless it has an id) and returns its
     * reply, failed with an IOException when the connection goes away first.
     *
     * @param shown whether the listener shows the reply (the shell's own commands are not shown)
     */
    CompletableFuture<JsonNode> execute(ObjectNode command, boolean shown) {
        if (!command.has("id")) {
            command.put("id", nextId++);
        }
        Waiting entry = new Waiting(shown, new CompletableFuture<>());
        waiting.add(entry);
        // After adding: either the reading thread's drain sees this entry or this sees its mark.
        if (lost.get() != null) {
            entry.reply.completeExceptionally(new IOException(lost.get()));
            return entry.reply;
        }
        try {
            String line = ShellJson.MAPPER.writeValueAsString(command);
            // Logged first: once written, the reply may be read (and logged) before this thread goes on.
            log.sent(line);
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            connectionLost("cannot send: " + e.getMessage());
        }
        return entry.reply;
    }

    /** Why the connection is gone; null while it is up. */
    String lost() {
        return lost.get();
    }

    private void readLoop() {
        try {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                log.received(line);
                dispatch(line);
            }
            connectionLost(path + " closed the connection");
        } catch (IOException e) {
            connectionLost(e.getMessage());
        }
    }

    private void dispatch(String line) {
        JsonNode node = parse(line);
        if (node == null) {
            listener.unparsable(line);
            return;
        }
        if (node.has("event")) {
            listener.event(line, node);
            return;
        }
        Waiting entry = waiting.poll();
        if (entry == null || entry.shown) {
            listener.reply(line, node);
        }
        if (entry != null) {
            entry.reply.complete(node);
        }
    }

    private void connectionLost(String why) {
        if (!lost.compareAndSet(null, "connection to " + path + " lost: " + why)) {
            return;
        }
        for (Waiting entry = waiting.poll(); entry != null; entry = waiting.poll()) {
            entry.reply.completeExceptionally(new IOException(lost.get()));
        }
        if (!closing) {
            listener.lost();
        }
    }

    private static JsonNode parse(String line) {
        try {
            return ShellJson.MAPPER.readTree(line);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    @Override
    public void close() throws IOException {
        closing = true;
        socket.close();
    }
}
