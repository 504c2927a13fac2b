package dev.qmpx.proxy.downstream;

import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.routing.Guest;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import dev.qmpx.broker.wire.SocketFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/** A listening unix socket whose clients become sessions of one guest. Runs on the guest's loop. */
public final class UnixListener implements EventLoop.Handler {
    private static final Logger LOG = Logger.getLogger(UnixListener.class.getName());

    private final AFUNIXServerSocketChannel server;
    private final String name;
    private final Path ownedPath;
    private Guest guest;
    private UnixClients clients;
    private EventLoop.Registration registration;
    /**
     * For fault-injection tests: the N-th client this listener accepts makes the loop thread fail
     * as an OutOfMemoryError in it would (qmpx.fault.loop-error-at-client=N; never without it).
     */
    private static final int FAIL_AT_CLIENT = Integer.getInteger("qmpx.fault.loop-error-at-client", -1);

    private int accepted;
    private long lastFailureLog;
    private int failuresSinceLog;

    private UnixListener(AFUNIXServerSocketChannel server, String name, Path ownedPath) {
        this.server = server;
        this.name = name;
        this.ownedPath = ownedPath;
    }

    /**
     * Binds a socket at path with the given permissions. A stale socket file (nobody accepting) is
     * replaced; a live one, or any other file, is an error.
     */
    public static UnixListener bind(Path path, Set<PosixFilePermission> mode) throws IOException {
        SocketFiles.clearForBind(path);
        AFUNIXServerSocketChannel server = AFUNIXServerSocketChannel.open();
        server.bind(AFUNIXSocketAddress.of(path));
        Files.setPosixFilePermissions(path, mode);
        return new UnixListener(server, path.toString(), path);
    }

    /** Adopts a listening socket inherited as file descriptor n (bound by the parent process). */
    public static UnixListener inherit(int fd) throws IOException {
        return new UnixListener(SocketFiles.inheritListening(fd).getChannel(), "fd " + fd, null);
    }

    public String name() {
        return name;
    }

    /** Starts accepting for the guest; call on the guest's loop thread. */
    public void register(Guest target, UnixClients guestClients) throws IOException {
        this.guest = target;
        this.clients = guestClients;
        server.configureBlocking(false);
        registration = target.loop().register(server, EventLoop.READ, this);
        LOG.info(target.config().name() + ": accepting clients on " + name);
    }

    @Override
    public void ready(int ready) throws IOException {
        AFUNIXSocketChannel client;
        while ((client = server.accept()) != null) {
            if (++accepted == FAIL_AT_CLIENT) {
                throw new OutOfMemoryError("fault injection (qmpx.fault.loop-error-at-client): client " + accepted);
            }
            try {
                UnixClientConnection.accept(client, guest, name, clients);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not set up a client on " + name, e);
                client.close();
            }
        }
    }

    /**
     * accept() failed, typically EMFILE: the pending connection stays in the backlog and the socket
     * stays readable, so accepting pauses for a moment instead of spinning; the warning is logged at
     * most every 10 s, with how many failures it stands for.
     */
    @Override
    public void failed(Exception e) {
        failuresSinceLog++;
        long now = System.nanoTime();
        if (now - lastFailureLog > 10_000_000_000L) {
            LOG.warning("accept on " + name + " failed " + failuresSinceLog + " time(s), pausing 100 ms each: " + e);
            lastFailureLog = now;
            failuresSinceLog = 0;
        }
        registration.interest(0);
        guest.loop().schedule(100, () -> registration.interest(EventLoop.READ));
    }

    /** Closes the socket and removes the file this process created; any thread, at exit. */
    public void close() {
        try {
            server.close();
            if (ownedPath != null) {
                Files.deleteIfExists(ownedPath);
            }
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing listener " + name, e);
        }
    }
}
