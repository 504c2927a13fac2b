package dev.qmpx.proxy.cli;

import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;

import dev.qmpx.broker.wire.SocketFiles;
import dev.qmpx.proxy.downstream.UnixListener;
import dev.qmpx.proxy.logging.OneLineFormatter;
import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.routing.Guest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/** {@code qmpx proxy}: one guest, its listeners, until QEMU goes away or SIGTERM. */
final class ProxyCommand {
    private static final Logger LOG = Logger.getLogger(ProxyCommand.class.getName());

    private ProxyCommand() {
    }

    static int run(String[] args) throws UsageException, IOException, InterruptedException {
        ProxyOptions options = ProxyOptions.parse(args);
        OneLineFormatter.install(options.verbose());
        List<UnixListener> listeners = new ArrayList<>();
        try {
            for (Integer fd : options.listenFds()) {
                listeners.add(UnixListener.inherit(fd));
            }
            for (Path path : options.listenPaths()) {
                listeners.add(UnixListener.bind(path, SocketFiles.mode(options.socketMode())));
            }
        } catch (IOException e) {
            listeners.forEach(UnixListener::close);
            throw new UsageException(e.getMessage());
        }
        EventLoop loop = new EventLoop("qmpx-" + options.guest().name());
        Guest guest = new Guest(options.guest(), loop);
        ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
        // Installed before anything listens, so a SIGTERM at any later moment is a clean stop.
        java.util.concurrent.atomic.AtomicBoolean ending = new java.util.concurrent.atomic.AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            listeners.forEach(UnixListener::close);
            // Whoever claims the exit first owns its status: here a signal (SIGTERM, SIGINT), a
            // requested stop, so 0 (the JVM would report 143); in main, QEMU going away.
            if (ending.compareAndSet(false, true)) {
                guest.exit().complete(0);
                Runtime.getRuntime().halt(0);
            }
        }, "qmpx-shutdown"));

        CompletableFuture<Void> registered = new CompletableFuture<>();
        loop.start();
        loop.execute(() -> {
            try {
                for (UnixListener listener : listeners) {
                    listener.register(guest, readBuffer);
                }
                registered.complete(null);
            } catch (IOException e) {
                registered.completeExceptionally(e);
            }
        });
        registered.join();
        guest.start();
        int status = guest.exit().join();
        if (!ending.compareAndSet(false, true)) {
            return 0; // a signal is stopping the process; its hook ends it with status 0
        }
        loop.close();
        listeners.forEach(UnixListener::close);
        LOG.info(options.guest().name() + ": proxy exits with status " + status);
        return status;
    }
}
