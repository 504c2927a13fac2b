package dev.qmpx.bench;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The bench's QMP client: a JDK unix-domain SocketChannel, one direct buffer, no per-read timeout.
 * dev.qmpx.client.QmpClient (junixsocket, a setSoTimeout before every read) is the client for
 * tools; the bench needs the cheapest client so that the figures measure QEMU and the proxy, and it
 * passes no fds. Blocking for round trips on a platform thread; {@link #nonBlocking()} hands the
 * channel to a Selector loop, after which only that loop's thread reads it.
 */
public final class QmpChannel implements Closeable {
    private final SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
    private final LineBuffer lines = new LineBuffer();

    private QmpChannel(SocketChannel channel) {
        this.channel = channel;
    }

    /** Connects, reads the greeting and negotiates capabilities. */
    public static QmpChannel negotiated(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        QmpChannel qmp = new QmpChannel(channel);
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
            String greeting = qmp.readLine();
            if (!greeting.startsWith("{\"QMP\"")) {
                throw new IOException("expected a QMP greeting from " + socket + ", got " + greeting);
            }
            qmp.expectReturn(qmp.call(command("{\"execute\":\"qmp_capabilities\"}")), "qmp_capabilities");
            return qmp;
        } catch (IOException | RuntimeException e) {
            qmp.close();
            throw e;
        }
    }

    /** A command's bytes in a direct buffer, for {@link #send} again and again. */
    public static ByteBuffer command(String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
    }

    public SocketChannel channel() {
        return channel;
    }

    public QmpChannel nonBlocking() throws IOException {
        channel.configureBlocking(false);
        return this;
    }

    /** Writes all of command (from its position; the buffer is rewound, not consumed). */
    public void send(ByteBuffer command) throws IOException {
        ByteBuffer b = command.duplicate();
        while (b.hasRemaining()) {
            if (channel.write(b) == 0) {
                // Non-blocking and the socket buffer is full: only a window far beyond the defaults gets here.
                Thread.onSpinWait();
            }
        }
    }

    /** Sends command and returns the next line that is not an event. */
    public String call(ByteBuffer command) throws IOException {
        send(command);
        return readReply();
    }

    /** The next line that is not an event, blocking; events on the way are dropped. */
    public String readReply() throws IOException {
        while (true) {
            String line = readLine();
            if (!isEvent(line)) {
                return line;
            }
        }
    }

    /** The next line, blocking. */
    public String readLine() throws IOException {
        String line;
        while ((line = lines.poll()) == null) {
            if (readAvailable() < 0) {
                throw new EOFException("connection closed by the peer");
            }
        }
        return line;
    }

    /** One read into the line buffer; -1 at end of stream. Non-blocking channels may read 0. */
    public int readAvailable() throws IOException {
        in.clear();
        int n = channel.read(in);
        if (n > 0) {
            in.flip();
            lines.feed(in);
        }
        return n;
    }

    /** A complete line already read, or null. */
    public String pollLine() {
        return lines.poll();
    }

    public static boolean isEvent(String line) {
        return line.startsWith("{\"timestamp\"");
    }

    public static void expectReturn(String reply, String what) throws IOException {
        if (!reply.startsWith("{\"return\"")) {
            throw new IOException(what + " failed: " + reply);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
