package dev.qmpx.proxy.downstream;

import dev.qmpx.proxy.fds.PendingFds;
import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.policy.Role;
import dev.qmpx.proxy.routing.Guest;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpWire;
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

    private final AFUNIXSocketChannel channel;
    private final UnixClients.Pool pool;
    private final boolean admin;
    private final ClientReads reads;
    private final long outputLimit;
    private final Peer peer;
    /**
     * Bytes read per turn of the loop: parsing them is what a turn costs, and every ready client
     * gets one read a turn, so other roles get small ones. With 64 KiB each, fifty flooding clients
     * made turns of a hundred milliseconds and more (HostileLoadIT); an admin's own turn comes
     * first ({@link #first}) and is not cut short.
     */
    private static final int ADMIN_READ = 64 * 1024;
    private static final int OTHER_READ = 8 * 1024;
    private final ArrayDeque<ByteBuffer> output = new ArrayDeque<>();
    private long outputBytes;
    private EventLoop.Registration registration;
    private ClientSession session;
    private boolean reading;
    private boolean closed;
    /** Whether extra fds in one message were already logged for this client (logged once, not per message). */
    private boolean extraFdsLogged;

    private UnixClientConnection(AFUNIXSocketChannel channel, UnixClients clients, boolean admin,
                                 long outputLimit, Peer peer) {
        this.channel = channel;
        this.admin = admin;
        this.pool = clients.pool(admin);
        this.reads = clients.reads();
        this.outputLimit = outputLimit;
        this.peer = peer;
    }

    /**
     * Takes over an accepted channel and attaches it to the guest.
     *
     * @param clients the guest's unix clients; over their bound, the client gets an error line and
     *     is closed before it is greeted
     */
    public static void accept(AFUNIXSocketChannel channel, Guest guest, String listenerName, UnixClients clients)
            throws IOException {
        channel.configureBlocking(false);
        Peer peer = peer(channel, listenerName);
        // The policy gives the role from the listener and credentials alone, so it is known before
        // anything is read, and decides which pool the client counts in.
        Role role = guest.config().policy().roleFor(guest.config().name(), listenerName, peer.uid(), peer.gid(), peer.remote());
        UnixClients.Pool pool = clients.pool(role.isAdmin());
        if (!clients.admit(guest.config().name(), peer, pool)) {
            channel.write(ByteBuffer.wrap(QmpWire.errorLine(null, QmpError.generic("qmpx: guest " + guest.config().name()
                    + " has its most " + pool.name() + " unix clients (--max-clients " + clients.max()
                    + "); try again later"))));
            channel.close();
            return;
        }
        UnixClientConnection connection = new UnixClientConnection(channel, clients, role.isAdmin(),
                guest.config().clientOutputLimit(), peer);
        try {
            connection.registration = guest.loop().register(channel, 0, connection);
        } catch (IOException e) {
            pool.left();
            throw e;
        }
        connection.session = new ClientSession(guest, connection, role);
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

    /** An admin's input is read before other clients' in a turn: management is never queued behind a flood. */
    @Override
    public boolean first() {
        return admin;
    }

    @Override
    public void failed(Exception e) {
        LOG.log(Level.WARNING, "client connection failed (" + peer + ")", e);
        close("error: " + e);
    }

    /**
     * One read ({@link #ADMIN_READ} or {@link #OTHER_READ} at most) per readiness event: epoll is
     * level-triggered, so a client with more waiting is read again once every other ready client
     * has had its turn. With eight reads of 64 KiB a turn, forty flooding clients held an admin's
     * round trip past a second (HostileLoadIT).
     */
    private void read() {
        if (reading && !closed) {
            ClientReads.Read read;
            try {
                read = reads.read(channel.getFileDescriptor(), admin ? ADMIN_READ : OTHER_READ);
            } catch (IOException e) {
                close("read failed: " + reason(e));
                return;
            }
            FileDescriptor[] fds = read.fds();
            if (read.truncated()) {
                // Some of the message's fds never arrived, so no command can be given the right one.
                for (FileDescriptor fd : fds) {
                    PendingFds.close(fd);
                }
                LOG.warning("disconnecting a client whose fds the kernel truncated (" + fds.length
                        + " arrived, all closed) (" + peer + ")");
                close("fds truncated in transit");
                return;
            }
            if (fds.length > 1 && !extraFdsLogged) {
                extraFdsLogged = true;
                LOG.warning("a client sent " + fds.length + " fds in one message: getfd and add-fd take only"
                        + " the first, as in QEMU, so the other " + (fds.length - 1)
                        + " are closed at once (logged once per client) (" + peer + ")");
            }
            session.feed(reads.buffer(), 0, Math.max(read.length(), 0), fds);
            if (read.length() <= 0) {
                if (read.length() < 0) {
                    close("client closed the connection");
                }
                return;
            }
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
        pool.left();
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
