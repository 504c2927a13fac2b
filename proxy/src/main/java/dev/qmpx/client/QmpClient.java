package dev.qmpx.client;

import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A blocking QMP client over a unix socket, line by line, with SCM_RIGHTS (or over any connected
 * {@link Socket}, such as TCP to the network front end, without fds). For tools, the demo and
 * tests; one thread uses an instance at a time.
 */
public final class QmpClient implements Closeable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] buffer = new byte[64 * 1024];
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private final ArrayDeque<String> lines = new ArrayDeque<>();
    private final List<String> events = new ArrayList<>();
    private String greeting;

    private QmpClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Connects without reading anything. */
    public static QmpClient open(Path path) throws IOException {
        return new QmpClient(AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path)));
    }

    /** Connects and reads the greeting. */
    public static QmpClient connect(Path path, Duration timeout) throws IOException {
        return greeted(open(path), path.toString(), timeout);
    }

    /** Takes over a connected socket and reads the greeting. */
    public static QmpClient connect(Socket socket, Duration timeout) throws IOException {
        return greeted(new QmpClient(socket), String.valueOf(socket.getRemoteSocketAddress()), timeout);
    }

    private static QmpClient greeted(QmpClient client, String from, Duration timeout) throws IOException {
        try {
            client.greeting = client.readLine(timeout);
            if (client.greeting == null || !client.greeting.startsWith("{\"QMP\"")) {
                throw new IOException("expected a QMP greeting from " + from + ", got: " + client.greeting);
            }
            return client;
        } catch (IOException e) {
            client.close();
            throw e;
        }
    }

    /** Connects, reads the greeting and negotiates capabilities. */
    public static QmpClient negotiated(Path path, Duration timeout) throws IOException {
        return negotiated(connect(path, timeout), timeout);
    }

    /** Negotiates capabilities on a connected, greeted client. */
    public static QmpClient negotiated(QmpClient client, Duration timeout) throws IOException {
        String reply = client.execute("{\"execute\": \"qmp_capabilities\"}", timeout);
        if (!reply.equals("{\"return\": {}}")) {
            client.close();
            throw new IOException("qmp_capabilities failed: " + reply);
        }
        return client;
    }

    public String greeting() {
        return greeting;
    }

    public void send(String text) throws IOException {
        send(text.getBytes(StandardCharsets.UTF_8));
    }

    public void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Sends text with descriptors in the same sendmsg. */
    public void sendWithFds(String text, FileDescriptor... fds) throws IOException {
        if (!(socket instanceof AFUNIXSocket unix)) {
            throw new IOException("file descriptors need a unix socket");
        }
        unix.setOutboundFileDescriptors(fds);
        send(text);
    }

    /** The next line (reply, event or error), without its line ending; null at end of stream. */
    public String readLine(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (lines.isEmpty()) {
            long remaining = (deadline - System.nanoTime()) / 1_000_000L;
            if (remaining <= 0) {
                throw new SocketTimeoutException("no line within " + timeout.toMillis() + " ms");
            }
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, remaining));
            int n;
            try {
                n = in.read(buffer);
            } catch (SocketTimeoutException e) {
                throw new SocketTimeoutException("no line within " + timeout.toMillis() + " ms");
            }
            if (n < 0) {
                return null;
            }
            split(n);
        }
        return lines.poll();
    }

    private void split(int n) {
        int start = 0;
        for (int i = 0; i < n; i++) {
            if (buffer[i] == '\n') {
                partial.write(buffer, start, i - start);
                byte[] line = partial.toByteArray();
                partial.reset();
                int length = line.length > 0 && line[line.length - 1] == '\r' ? line.length - 1 : line.length;
                lines.add(new String(line, 0, length, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        partial.write(buffer, start, n - start);
    }

    /** Sends text and returns the very next line, whatever it is. */
    public String readLineAfter(String text, Duration timeout) throws IOException {
        send(text);
        return readLine(timeout);
    }

    /** Sends a command and returns the first line that is not an event; events are kept. */
    public String execute(String command, Duration timeout) throws IOException {
        send(command);
        return nextReply(timeout);
    }

    /** The next line that is not an event; events read on the way are kept for {@link #events()}. */
    public String nextReply(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = readLine(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (line == null) {
                throw new IOException("connection closed while waiting for a reply");
            }
            if (isEvent(line)) {
                events.add(line);
            } else {
                return line;
            }
        }
    }

    /** Waits for an event with the given name, reading and keeping other lines' events. */
    public String awaitEvent(String name, Duration timeout) throws IOException {
        String marker = "\"event\": \"" + name + "\"";
        for (String e : events) {
            if (e.contains(marker)) {
                events.remove(e);
                return e;
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = readLine(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (line == null) {
                throw new IOException("connection closed while waiting for event " + name);
            }
            if (line.contains(marker)) {
                return line;
            }
            if (isEvent(line)) {
                events.add(line);
            } else {
                throw new IOException("unexpected reply while waiting for event " + name + ": " + line);
            }
        }
    }

    public List<String> events() {
        return events;
    }

    public static boolean isEvent(String line) {
        return line.startsWith("{\"timestamp\"");
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
