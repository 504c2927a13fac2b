package dev.qmpx.broker.wire;

/**
 * Refusals a flood of connections can cause, logged at once and then at most once an interval,
 * each line saying how many refusals it stands for: a refusal is one line's worth of news, a
 * flood of them must not flood the log. Not thread-safe: one thread counts (an accepting thread,
 * a guest's loop).
 */
public final class RefusalCount {
    private static final long INTERVAL_NANOS = 10_000_000_000L;

    private long lastLineNanos = System.nanoTime() - INTERVAL_NANOS;
    private long sinceLastLine;

    /** Counts one refusal; returns how many refusals a line logged now stands for, or 0 when none is due. */
    public long refused() {
        sinceLastLine++;
        long now = System.nanoTime();
        if (now - lastLineNanos < INTERVAL_NANOS) {
            return 0;
        }
        lastLineNanos = now;
        long count = sinceLastLine;
        sinceLastLine = 0;
        return count;
    }
}
