package dev.qmpx.proxy.paths;

import dev.qmpx.broker.client.OpenHookClient;
import dev.qmpx.proxy.metrics.GuestMetrics;

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
    private final GuestMetrics metrics;

    /** @param timeout how long one request may wait for the broker's answer */
    public BrokerCalls(Path hookSocket, java.time.Duration timeout, String guest, GuestMetrics metrics) {
        this.hookSocket = hookSocket;
        this.timeout = timeout;
        this.metrics = metrics;
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
            List<String> left = unlinkNow(files, guest + ": created for a command QEMU refused,");
            if (!left.isEmpty()) {
                LOG.warning(guest + ": could not delete " + left + ", created for a command QEMU refused: the broker "
                        + "at " + hookSocket + " is not reachable");
            }
        });
    }

    /**
     * Deletes files the guest created through the broker, on the calling thread; a file the broker
     * refuses to delete (not created by the guest, or not at all) is logged and left.
     *
     * @param context what the log lines say about the files
     * @return the files the broker could not be reached for
     */
    public List<String> unlinkNow(List<String> files, String context) {
        List<String> left = new ArrayList<>();
        for (String file : files) {
            try (OpenHookClient broker = OpenHookClient.connect(hookSocket, timeout)) {
                broker.unlink(file);
                LOG.info(context + " deleted " + file);
            } catch (OpenHookClient.Denied denied) {
                LOG.info(context + " left " + file + ": " + denied.getMessage());
            } catch (IOException e) {
                left.add(file);
            }
        }
        return left;
    }

    /**
     * Opens every reference (read-only, read-write or create), then hands all outcomes to done, on a
     * worker thread; the caller moves back to its loop. Stops at the first failure. A request whose
     * answer was lost because the broker went away (EOF: it crashed or was restarted) is retried
     * once for opens of existing files, which are idempotent, after waiting up to the timeout for the
     * broker to come back; a create is not retried (it may have happened), its file is handed to
     * the broker's unlink instead, which removes it only if this guest did create it.
     */
    public void open(List<FileReference> references, Consumer<List<Opened>> done) {
        workers.execute(() -> {
            List<Opened> outcomes = new ArrayList<>();
            OpenHookClient broker = null;
            String failure = null;
            for (FileReference reference : references) {
                if (failure != null) {
                    outcomes.add(new Opened(reference, null, failure));
                    continue;
                }
                boolean create = reference.access() == FileReference.Access.CREATE;
                String request = create ? "create" : "open";
                // Set when the answer was lost: until then the one retry may wait for a broker coming back.
                long retryDeadline = 0;
                while (true) {
                    boolean connected = false;
                    long sentNanos = System.nanoTime();
                    try {
                        if (broker == null) {
                            broker = retryDeadline == 0 ? OpenHookClient.connect(hookSocket, timeout) : reconnect(retryDeadline);
                        }
                        connected = true;
                        sentNanos = System.nanoTime();
                        outcomes.add(new Opened(reference, broker.open(reference.path(),
                                reference.access() != FileReference.Access.READ, create), null));
                        metrics.brokerRequest(request, "granted", sentNanos);
                    } catch (OpenHookClient.Denied denied) {
                        metrics.brokerRequest(request, denied.errorClass(), sentNanos);
                        failure = "qmpx broker refused " + reference.path() + ": " + denied.getMessage();
                        outcomes.add(new Opened(reference, null, failure));
                    } catch (IOException e) {
                        closeQuietly(broker);
                        broker = null;
                        if (connected && !create && retryDeadline == 0) {
                            LOG.warning("the broker at " + hookSocket + " went away during the open of " + reference.path()
                                    + " (" + e.getMessage() + "); retrying it once");
                            retryDeadline = System.nanoTime() + timeout.toNanos();
                            continue;
                        }
                        if (retryDeadline != 0 && System.nanoTime() < retryDeadline) {
                            // Still the one retry: the connection reached the dying broker's queue, not the new one.
                            continue;
                        }
                        if (connected && create) {
                            unlinkMaybeCreated(reference.path());
                        }
                        metrics.brokerRequest(request, "unreachable", sentNanos);
                        failure = "qmpx: the broker at " + hookSocket + " is not reachable (" + e.getMessage()
                                + "); commands naming files are refused until it is";
                        outcomes.add(new Opened(reference, null, failure));
                    }
                    break;
                }
            }
            closeQuietly(broker);
            done.accept(outcomes);
        });
    }

    /** A new connection to a broker that is being restarted: tried until the deadline (System.nanoTime). */
    private OpenHookClient reconnect(long deadline) throws IOException {
        long pause = 20;
        while (true) {
            try {
                return OpenHookClient.connect(hookSocket, timeout);
            } catch (IOException e) {
                if (System.nanoTime() + pause * 1_000_000L > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(pause); // back-off between connection attempts
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                pause = Math.min(pause * 2, 1000);
            }
        }
    }

    /** The broker may have created the file before it went away: its unlink removes it only if so. */
    private void unlinkMaybeCreated(String path) {
        try (OpenHookClient broker = reconnect(System.nanoTime() + timeout.toNanos())) {
            broker.unlink(path);
            LOG.info("deleted " + path + ", created by a broker that went away before answering");
        } catch (OpenHookClient.Denied denied) {
            LOG.fine("nothing to delete at " + path + ": " + denied.getMessage());
        } catch (IOException e) {
            LOG.warning("could not check whether " + path + " was created before the broker went away: " + e.getMessage());
        }
    }

    private static void closeQuietly(OpenHookClient broker) {
        if (broker != null) {
            try {
                broker.close();
            } catch (IOException e) {
                LOG.fine("closing a broker connection: " + e.getMessage());
            }
        }
    }
}
