package dev.qmpx.proxy.paths;

import dev.qmpx.broker.client.OpenHookClient;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * Open requests to the broker on the guest's behalf, on worker threads (platform threads; the
 * guest's loop never waits on the broker). One connection per batch: nothing to go stale when the
 * broker restarts. Thread-safe.
 */
public final class BrokerCalls {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(BrokerCalls.class.getName());
    private final Path hookSocket;
    private final java.time.Duration timeout;
    private final ExecutorService workers;

    /** @param timeout how long one request may wait for the broker's answer */
    public BrokerCalls(Path hookSocket, java.time.Duration timeout, String guest) {
        this.hookSocket = hookSocket;
        this.timeout = timeout;
        this.workers = Executors.newFixedThreadPool(2, Thread.ofPlatform().name("broker-" + guest + "-", 0).daemon().factory());
    }

    public Path hookSocket() {
        return hookSocket;
    }

    public java.time.Duration timeout() {
        return timeout;
    }

    /** One file's outcome: an fd the receiver owns, or why there is none. */
    public record Opened(FileReference reference, FileDescriptor fd, String failure) {
    }

    /**
     * Deletes files the broker created for a command that then failed (QEMU refused it), so a
     * refused command leaves no file behind. Logged, on a worker thread.
     */
    public void unlink(List<String> files, String guest) {
        workers.execute(() -> {
            try (OpenHookClient broker = OpenHookClient.connect(hookSocket, timeout)) {
                for (String file : files) {
                    broker.unlink(file);
                    LOG.info(guest + ": deleted " + file + ", created for a command QEMU refused");
                }
            } catch (IOException e) {
                LOG.warning(guest + ": could not delete " + files + ", created for a command QEMU refused: " + e.getMessage());
            }
        });
    }

    /**
     * Opens every reference (read-write unless read-only), then hands all outcomes to done, on a
     * worker thread; the caller moves back to its loop.
     */
    public void open(List<FileReference> references, Consumer<List<Opened>> done) {
        workers.execute(() -> {
            List<Opened> outcomes = new ArrayList<>();
            try (OpenHookClient broker = OpenHookClient.connect(hookSocket, timeout)) {
                for (FileReference reference : references) {
                    try {
                        outcomes.add(new Opened(reference, broker.open(reference.path(),
                                reference.access() != FileReference.Access.READ, reference.access() == FileReference.Access.CREATE), null));
                    } catch (OpenHookClient.Denied denied) {
                        outcomes.add(new Opened(reference, null, "qmpx broker refused " + reference.path() + ": "
                                + denied.getMessage()));
                    }
                }
            } catch (IOException e) {
                outcomes.forEach(opened -> dev.qmpx.proxy.fds.PendingFds.close(opened.fd()));
                outcomes.clear();
                for (FileReference reference : references) {
                    outcomes.add(new Opened(reference, null, "qmpx: the broker at " + hookSocket
                            + " is not reachable (" + e.getMessage() + "); commands naming files are refused until it is"));
                }
            }
            done.accept(outcomes);
        });
    }
}
