package dev.qmpx.proxy.downstream;

import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.routing.Guest;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A client on a unix socket: non-blocking reads (bytes and SCM_RIGHTS fds) and writes with a
 * bounded output queue. Confined to the guest's loop thread.
 */
public final class UnixClientConnection implements ClientTransport, EventLoop.Handler {
    private static final Logger LOG = Logger.getLogger(UnixClientConnection.class.getName());
    /** Reads per readiness event, so one flooding client cannot monopolise the loop. */
    private static final int READS_PER_TURN = 8;
    /** Room for the SCM_RIGHTS control message (junixsocket's minimum is 256 bytes). */
    private static final int ANCILLARY_BUFFER = 1024;

    private final AFUNIXSocketChannel channel;
    private final ByteBuffer readBuffer;
    private final long outputLimit;
    private final Peer peer;
    private final ArrayDeque<ByteBuffer> output = new ArrayDeque<>();
    private long outputBytes;
    private EventLoop.Registration registration;
    private ClientSession session;
    private boolean reading;
    private boolean closed;

    private UnixClientConnection(AFUNIXSocketChannel channel, ByteBuffer readBuffer, long outputLimit, Peer peer) {
        this.channel = channel;
        this.readBuffer = readBuffer;
        this.outputLimit = outputLimit;
        this.peer = peer;
    }

    /**
     * Takes over an accepted channel and attaches it to the guest.
     *
     * @param readBuffer the loop's shared read buffer (one thread uses it at a time)
     */
    public static void accept(AFUNIXSocketChannel channel, Guest guest, String listenerName, ByteBuffer readBuffer)
            throws IOException {
        channel.configureBlocking(false);
        channel.socket().setAncillaryReceiveBufferSize(ANCILLARY_BUFFER);
        UnixClientConnection connection = new UnixClientConnection(channel, readBuffer,
                guest.config().clientOutputLimit(), peer(channel, listenerName));
        connection.registration = guest.loop().register(channel, 0, connection);
        connection.session = new ClientSession(guest, connection);
        guest.attach(connection.session);
    }

    private static Peer peer(AFUNIXSocketChannel channel, String listener) throws IOException {
        AFUNIXSocketCredentials credentials = channel.getPeerCredentials();
        return new Peer(credentials.getPid(), credentials.getUid(), credentials.getGid(), listener);
    }

    @Override
    public Peer peer() {
        return peer;
    }

    @Override
    public void ready(int ready) {
        if ((ready & EventLoop.WRITE) != 0 && !closed) {
            flush();
        }
        if ((ready & EventLoop.READ) != 0 && !closed) {
            if (reading) {
                read();
            } else {
                // Not reading (back-pressure or no greeting yet), so this is a hang-up: the
                // client is gone and its unread input goes with it, as with QEMU.
                close("client hung up");
            }
        }
    }

    @Override
    public void failed(Exception e) {
        LOG.log(Level.WARNING, "client connection failed (" + peer + ")", e);
        close("error: " + e);
    }

    private void read() {
        for (int turn = 0; turn < READS_PER_TURN && reading && !closed; turn++) {
            readBuffer.clear();
            int n;
            FileDescriptor[] fds;
            try {
                n = channel.read(readBuffer);
                fds = channel.getReceivedFileDescriptors();
            } catch (IOException e) {
                close("read failed: " + reason(e));
                return;
            }
            if (n <= 0) {
                session.feed(readBuffer.array(), 0, 0, fds);
                if (n < 0) {
                    close("client closed the connection");
                }
                return;
            }
            session.feed(readBuffer.array(), readBuffer.arrayOffset(), n, fds);
        }
    }

    @Override
    public void send(byte[] line) {
        if (closed) {
            return;
        }
        ByteBuffer buffer = ByteBuffer.wrap(line);
        try {
            if (output.isEmpty()) {
                channel.write(buffer);
                if (!buffer.hasRemaining()) {
                    return;
                }
                registration.interest(registration.interest() | EventLoop.WRITE);
            }
            output.add(buffer);
            outputBytes += buffer.remaining();
            if (outputBytes > outputLimit) {
                LOG.warning("disconnecting a client that does not read its replies: " + outputBytes
                        + " bytes pending, limit " + outputLimit + " (" + peer + ")");
                close("output limit exceeded: " + outputBytes + " bytes pending");
            }
        } catch (IOException e) {
            close("write failed: " + reason(e));
        }
    }

    private void flush() {
        try {
            while (!output.isEmpty()) {
                ByteBuffer head = output.peek();
                int before = head.remaining();
                channel.write(head);
                outputBytes -= before - head.remaining();
                if (head.hasRemaining()) {
                    return;
                }
                output.poll();
            }
            registration.interest(registration.interest() & ~EventLoop.WRITE);
        } catch (IOException e) {
            close("write failed: " + reason(e));
        }
    }

    private static String reason(IOException e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName() + " (peer gone)";
    }

    @Override
    public void setReading(boolean reading) {
        if (closed) {
            return;
        }
        this.reading = reading;
        int ops = registration.interest();
        registration.interest(reading ? ops | EventLoop.READ : ops & ~EventLoop.READ);
    }

    @Override
    public void close(String reason) {
        if (closed) {
            return;
        }
        closed = true;
        registration.cancel();
        try {
            channel.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing client socket", e);
        }
        output.clear();
        session.closed(reason);
    }
}
