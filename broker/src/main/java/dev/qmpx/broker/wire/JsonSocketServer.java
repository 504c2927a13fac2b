package dev.qmpx.broker.wire;

import dev.qmpx.broker.audit.AuditLog;
import dev.qmpx.qmp.json.JsonLimits;
import dev.qmpx.qmp.json.JsonStreamer;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A unix socket served one JSON object per request, one reply line per request, a platform thread
 * per connection (junixsocket I/O never runs on virtual threads: java-stack-facts §2). Requests of
 * one connection are answered in order; connections are independent, so a slow filesystem call
 * holds up only its own requester.
 */
public final class JsonSocketServer {
    private static final Logger LOG = Logger.getLogger(JsonSocketServer.class.getName());
    /** Requests are small; anything larger is refused as a whole and the connection goes on. */
    public static final JsonLimits REQUEST_LIMITS = new JsonLimits(16 * 1024, 8);
    private static final AtomicLong CONNECTIONS = new AtomicLong();
    /**
     * Connections served at once per socket: each holds a platform thread, so without a bound a
     * requester that opens connections and never closes them would exhaust threads and fds. The
     * proxy uses two per guest; 128 leaves room for many tools and QEMU's own hook.
     */
    public static final int MAX_CONNECTIONS = 128;

    /** Handles one connection's requests. */
    public interface Session {
        void onRequest(JsonStreamer.Item request, Replies replies) throws IOException;
    }

    /** Opens a session for a new connection, or returns null to refuse it (it is then closed). */
    public interface SessionFactory {
        Session open(AuditLog.Peer peer, Replies replies) throws IOException;
    }

    /** Writes reply lines, optionally with an fd in the same sendmsg. */
    public static final class Replies {
        private final AFUNIXSocket socket;
        private final OutputStream out;

        Replies(AFUNIXSocket socket) throws IOException {
            this.socket = socket;
            this.out = socket.getOutputStream();
        }

        public void send(String line) throws IOException {
            out.write((line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            out.flush();
        }

        public void sendWithFd(String line, int fd) throws IOException {
            socket.setOutboundFileDescriptors(FileDescriptorCast.unsafeUsing(fd).getFileDescriptor());
            send(line);
        }
    }

    private final String name;
    private final AFUNIXServerSocket server;
    private final SessionFactory factory;
    private final Thread acceptor;
    /** Taken on the accepting thread, given back by the connection's thread when it ends. */
    private final Semaphore connectionSlots = new Semaphore(MAX_CONNECTIONS);
    /** The accepting thread's own. */
    private final RefusalCount refusals = new RefusalCount();

    public JsonSocketServer(String name, AFUNIXServerSocket server, SessionFactory factory) {
        this.name = name;
        this.server = server;
        this.factory = factory;
        this.acceptor = new Thread(this::acceptLoop, name + "-accept");
    }

    public void start() {
        acceptor.start();
    }

    /** Stops accepting; connections already open end when their peers close. */
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing " + name, e);
        }
    }

    /** Ends only when the socket is closed: EMFILE and other failures back off and retry. */
    private void acceptLoop() {
        long lastLog = 0;
        while (!server.isClosed()) {
            try {
                AFUNIXSocket socket = server.accept();
                if (!connectionSlots.tryAcquire()) {
                    refuse(socket);
                    continue;
                }
                try {
                    Thread.ofPlatform().name(name + "-" + CONNECTIONS.incrementAndGet()).start(() -> {
                        try {
                            serve(socket);
                        } finally {
                            connectionSlots.release();
                        }
                    });
                } catch (RuntimeException | OutOfMemoryError e) {
                    connectionSlots.release();
                    socket.close();
                    throw e;
                }
            } catch (IOException | RuntimeException | OutOfMemoryError e) {
                if (server.isClosed()) {
                    return;
                }
                if (System.nanoTime() - lastLog > 10_000_000_000L) {
                    LOG.warning(name + ": accept failed, retrying every 100 ms: " + e);
                    lastLog = System.nanoTime();
                }
                java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
            }
        }
    }

    /** Closes a connection over the cap at once; logged at most every 10 s, with the count, so a flood cannot flood the log. */
    private void refuse(AFUNIXSocket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, name + ": closing a refused connection", e);
        }
        long refused = refusals.refused();
        if (refused > 0) {
            LOG.warning(name + ": " + MAX_CONNECTIONS + " connections are open, the most one socket serves; refused "
                    + refused + " connection(s) since the last such line");
        }
    }

    private void serve(AFUNIXSocket socket) {
        try (socket) {
            AFUNIXSocketCredentials credentials = socket.getPeerCredentials();
            AuditLog.Peer peer = new AuditLog.Peer(credentials.getPid(), credentials.getUid(), credentials.getGid());
            Replies replies = new Replies(socket);
            Session session = factory.open(peer, replies);
            if (session == null) {
                return;
            }
            IOException[] failure = new IOException[1];
            JsonStreamer streamer = new JsonStreamer(REQUEST_LIMITS, true, item -> {
                if (failure[0] == null) {
                    try {
                        session.onRequest(item, replies);
                    } catch (IOException e) {
                        failure[0] = e;
                    }
                }
            });
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[8192];
            int n;
            while (failure[0] == null && (n = in.read(buffer)) > 0) {
                // Nobody sends the broker fds: any that come are closed with the socket.
                streamer.feed(buffer, 0, n);
            }
        } catch (IOException e) {
            LOG.log(Level.FINE, name + ": connection ended", e);
        }
    }
}
