package dev.qmpx.proxy.upstream;

import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.qmp.json.JsonLimits;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.JsonStreamer;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one connection to a guest's QEMU monitor. Reads QEMU's output as JSON messages and writes
 * commands, with their fds in the same sendmsg. Confined to the guest's loop thread.
 */
public final class UpstreamLink implements EventLoop.Handler {
    private static final Logger LOG = Logger.getLogger(UpstreamLink.class.getName());

    /** Receives what happens on the link, on the loop thread. */
    public interface Listener {
        void onUpstreamMessage(JsonMessage message);

        void onUpstreamClosed(String reason);
    }

    private final EventLoop loop;
    private final Path socket;
    private final Listener listener;
    private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
    private final ArrayDeque<ByteBuffer> pendingWrites = new ArrayDeque<>();
    private AFUNIXSocketChannel channel;
    private EventLoop.Registration registration;
    private JsonStreamer streamer;

    public UpstreamLink(EventLoop loop, Path socket, Listener listener) {
        this.loop = loop;
        this.socket = socket;
        this.listener = listener;
    }

    /** Connects once; on failure returns the reason and leaves the link closed. */
    public String connect() {
        AFUNIXSocketChannel ch = null;
        try {
            ch = AFUNIXSocketChannel.open();
            ch.connect(AFUNIXSocketAddress.of(socket));
            ch.configureBlocking(false);
            streamer = new JsonStreamer(JsonLimits.UPSTREAM, false, this::onItem);
            channel = ch;
            registration = loop.register(ch, EventLoop.READ, this);
            return null;
        } catch (IOException e) {
            closeQuietly(ch);
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
    }

    public boolean isConnected() {
        return channel != null;
    }

    /** QEMU's pid (SO_PEERCRED of the monitor connection), or -1 when not connected. */
    public long peerPid() {
        try {
            return channel == null ? -1 : channel.getPeerCredentials().getPid();
        } catch (IOException e) {
            return -1;
        }
    }

    /** Writes a command; fds, if any, travel in the same sendmsg as its first bytes. */
    public void send(byte[] bytes, FileDescriptor[] fds) {
        if (channel == null) {
            return;
        }
        if (LOG.isLoggable(Level.FINE)) {
            LOG.fine("-> qemu " + new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        if (fds != null && fds.length > 0 && !pendingWrites.isEmpty()) {
            // The dispatcher sends an fd-carrying command only when nothing is in flight.
            throw new IllegalStateException("fds must travel with a command's first byte; writes are pending");
        }
        try {
            if (pendingWrites.isEmpty()) {
                if (fds != null && fds.length > 0) {
                    channel.setOutboundFileDescriptors(fds);
                }
                channel.write(buffer);
                if (!buffer.hasRemaining()) {
                    return;
                }
            }
            pendingWrites.add(buffer);
            registration.interest(EventLoop.READ | EventLoop.WRITE);
        } catch (IOException e) {
            close("write to QEMU failed: " + e.getMessage());
        }
    }

    @Override
    public void ready(int ready) throws IOException {
        if ((ready & EventLoop.WRITE) != 0 && channel != null) {
            flush();
        }
        if ((ready & EventLoop.READ) != 0) {
            read();
        }
    }

    /** QEMU's replies go out before the turn's other clients are read: they are what everyone waits for. */
    @Override
    public boolean first() {
        return true;
    }

    @Override
    public void failed(Exception e) {
        close("monitor connection failed: " + e);
    }

    private void read() throws IOException {
        while (channel != null) {
            readBuffer.clear();
            int n;
            try {
                n = channel.read(readBuffer);
            } catch (IOException e) {
                // QEMU resets the connection after quit when a byte was left unread (qemu-facts §0.10).
                close("QEMU closed the monitor (" + e.getMessage() + ")");
                return;
            }
            if (n < 0) {
                close("QEMU closed the monitor (EOF)");
                return;
            }
            if (n == 0) {
                return;
            }
            streamer.feed(readBuffer.array(), 0, n);
        }
    }

    private void flush() throws IOException {
        while (!pendingWrites.isEmpty()) {
            ByteBuffer head = pendingWrites.peek();
            channel.write(head);
            if (head.hasRemaining()) {
                return;
            }
            pendingWrites.poll();
        }
        registration.interest(EventLoop.READ);
    }

    private void onItem(JsonStreamer.Item item) {
        switch (item) {
            case JsonStreamer.Parsed parsed -> {
                if (LOG.isLoggable(Level.FINE)) {
                    LOG.fine("<- qemu " + new String(parsed.message().text(), java.nio.charset.StandardCharsets.UTF_8));
                }
                listener.onUpstreamMessage(parsed.message());
            }
            case JsonStreamer.Failed failed ->
                    LOG.warning("QEMU sent output that is not JSON, dropped: " + failed.desc());
        }
    }

    /** Closes the link and reports it once. */
    public void close(String reason) {
        if (channel == null) {
            return;
        }
        registration.cancel();
        closeQuietly(channel);
        channel = null;
        registration = null;
        pendingWrites.clear();
        listener.onUpstreamClosed(reason);
    }

    private static void closeQuietly(AFUNIXSocketChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                LOG.log(Level.FINE, "closing monitor socket", e);
            }
        }
    }
}
