package dev.qmpx.proxy.cli;

import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;

import dev.qmpx.broker.wire.SocketFiles;
import dev.qmpx.proxy.downstream.UnixClients;
import dev.qmpx.proxy.downstream.UnixListener;
import dev.qmpx.proxy.logging.LogFormat;
import dev.qmpx.proxy.metrics.MetricsEndpoint;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.remote.RemoteFrontEnd;
import dev.qmpx.proxy.routing.Guest;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * {@code qmpx proxy}: its guests (one, or several with --config), each with its own event loop and
 * listeners, until SIGTERM, or until the one guest's QEMU goes away (without --reconnect).
 */
final class ProxyCommand {
    private static final Logger LOG = Logger.getLogger(ProxyCommand.class.getName());

    private ProxyCommand() {
    }

    /** One running guest: its loop, its router, its listeners. */
    private record Running(EventLoop loop, Guest guest, List<UnixListener> listeners) {
    }

    static int run(String[] args, LogFormat logFormat) throws UsageException, IOException, InterruptedException {
        ProxyOptions options = ProxyOptions.parse(args);
        logFormat.install(options.verbose());
        LOG.info(options.guests().getFirst().config().policy().summary());
        List<Running> running = new ArrayList<>();
        List<UnixListener> allListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
        try {
            for (ProxyOptions.GuestSpec spec : options.guests()) {
                List<UnixListener> listeners = new ArrayList<>();
                for (Integer fd : spec.listenFds()) {
                    listeners.add(UnixListener.inherit(fd));
                }
                for (Path path : spec.listenPaths()) {
                    listeners.add(UnixListener.bind(path, SocketFiles.mode(options.socketMode())));
                }
                allListeners.addAll(listeners);
                EventLoop loop = new EventLoop("qmpx-" + spec.config().name());
                running.add(new Running(loop, new Guest(spec.config(), loop), listeners));
            }
        } catch (IOException e) {
            allListeners.forEach(UnixListener::close);
            throw new UsageException(e.getMessage());
        }
        if (options.metrics() != null) {
            try {
                HTTPServer server = MetricsEndpoint.start(options.metrics(), options.registry().registry());
                LOG.info("metrics at http://" + options.metrics().host() + ":" + server.getPort() + "/metrics");
            } catch (IOException e) {
                allListeners.forEach(UnixListener::close);
                throw new UsageException("--metrics " + options.metrics().host() + ":" + options.metrics().port()
                        + ": " + e.getMessage());
            }
        }
        Closeable frontEnd = startRemote(options, running, allListeners);
        // Installed before anything listens, so a SIGTERM at any later moment is a clean stop.
        java.util.concurrent.atomic.AtomicBoolean ending = new java.util.concurrent.atomic.AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            allListeners.forEach(UnixListener::close);
            closeRemote(frontEnd);
            // Whoever claims the exit first owns its status: here a signal (SIGTERM, SIGINT), a
            // requested stop, so 0 (the JVM would report 143); in main, QEMU going away.
            if (ending.compareAndSet(false, true)) {
                running.forEach(r -> r.guest().exit().complete(0));
                Runtime.getRuntime().halt(0);
            }
        }, "qmpx-shutdown"));

        for (Running r : running) {
            start(r, options.maxClients());
        }
        CompletableFuture<?>[] exits = running.stream().map(r -> r.guest().exit()).toArray(CompletableFuture[]::new);
        int status = (Integer) CompletableFuture.anyOf(exits).join();
        if (!ending.compareAndSet(false, true)) {
            return 0; // a signal is stopping the process; its hook ends it with status 0
        }
        try {
            for (Running r : running) {
                r.loop().close();
            }
            allListeners.forEach(UnixListener::close);
            closeRemote(frontEnd);
        } catch (RuntimeException e) {
            // The status says why the proxy ends (QEMU went away); a failing cleanup must not hide it.
            LOG.log(java.util.logging.Level.WARNING, "cleanup before exit failed", e);
        }
        LOG.info("proxy exits with status " + status);
        return status;
    }

    /**
     * The network front end (gateway module) when a network listener is given; it binds now, so a
     * port in use or unreadable TLS material is a usage error before any guest starts.
     */
    private static Closeable startRemote(ProxyOptions options, List<Running> running, List<UnixListener> listeners)
            throws UsageException {
        if (options.remote() == null) {
            return () -> { };
        }
        try {
            return RemoteFrontEnd.load().start(options.remote(), running.stream().map(Running::guest).toList());
        } catch (UsageException e) {
            listeners.forEach(UnixListener::close);
            throw e;
        } catch (IOException e) {
            listeners.forEach(UnixListener::close);
            throw new UsageException(e.getMessage());
        }
    }

    private static void closeRemote(Closeable frontEnd) {
        try {
            frontEnd.close();
        } catch (IOException e) {
            LOG.log(java.util.logging.Level.FINE, "closing the network front end", e);
        }
    }

    private static void start(Running r, int maxClients) throws IOException {
        UnixClients clients = new UnixClients(maxClients);
        CompletableFuture<Void> registered = new CompletableFuture<>();
        r.loop().start();
        r.loop().execute(() -> {
            try {
                for (UnixListener listener : r.listeners()) {
                    listener.register(r.guest(), clients);
                }
                registered.complete(null);
            } catch (IOException e) {
                registered.completeExceptionally(e);
            }
        });
        try {
            registered.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw new IOException(e.getCause().getMessage(), e.getCause());
        }
        r.guest().start();
    }
}
