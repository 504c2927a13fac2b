package dev.qmpx.gateway.net;

import java.util.logging.Logger;

/**
 * The log lines of refused network connections, rate-limited: any peer can make a refusal, so
 * without a bound a flood of them floods the log. At most {@link #PER_SECOND} lines a second for
 * the whole process; the next line that passes says how many were left out. Thread-safe (its
 * monitor), called from netty's threads.
 */
public final class RefusalLog {
    static final int PER_SECOND = 20;
    private static final Logger LOG = Logger.getLogger(RefusalLog.class.getName());
    private static final RefusalLog INSTANCE = new RefusalLog();

    private long windowStartNanos = System.nanoTime();
    private int inWindow;
    private long left;

    RefusalLog() {
    }

    /** Logs one line, one warning, unless this second's lines are used up. */
    public static void warning(String line) {
        String out = INSTANCE.admit(line, System.nanoTime());
        if (out != null) {
            LOG.warning(out);
        }
    }

    /** The line to log, with the count of lines left out since the last one, or null to leave it out. */
    synchronized String admit(String line, long nowNanos) {
        if (nowNanos - windowStartNanos >= 1_000_000_000L) {
            windowStartNanos = nowNanos;
            inWindow = 0;
        }
        if (inWindow >= PER_SECOND) {
            left++;
            return null;
        }
        inWindow++;
        if (left == 0) {
            return line;
        }
        String out = line + " (" + left + " more refusals not logged)";
        left = 0;
        return out;
    }
}
