package dev.qmpx.gateway.client;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Network input read by netty's threads and not yet fed to a session, over the whole process. Each
 * client is bounded by its own limit, but every listener admits hundreds of connections: without a
 * total, their bounded shares together still outgrew a 256 MiB heap. Past the total, a channel
 * that reads stops reading and is resumed once the total has fallen to half. Thread-safe: netty's
 * threads charge, the guests' loops refund.
 */
final class UnfedInput {
    static final UnfedInput PROCESS = new UnfedInput(64L << 20);

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final ConcurrentLinkedQueue<Runnable> waiting = new ConcurrentLinkedQueue<>();

    UnfedInput(long limit) {
        this.limit = limit;
    }

    /** @return false when the total is now past the limit (the bytes are counted all the same) */
    boolean charge(long bytes) {
        return used.addAndGet(bytes) <= limit;
    }

    boolean exhausted() {
        return used.get() > limit;
    }

    /** Runs {@code resume} once the total has fallen to half the limit (at once if it has already). */
    void resumeLater(Runnable resume) {
        waiting.add(resume);
        if (used.get() <= limit / 2) {
            resumeWaiting();
        }
    }

    void refund(long bytes) {
        if (used.addAndGet(-bytes) <= limit / 2 && !waiting.isEmpty()) {
            resumeWaiting();
        }
    }

    private void resumeWaiting() {
        for (Runnable resume; (resume = waiting.poll()) != null; ) {
            resume.run();
        }
    }
}
