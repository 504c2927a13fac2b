package dev.qmpx.proxy.orchestration;

import java.io.IOException;
import java.util.logging.Logger;

/**
 * A point where, for fault-injection tests, the process stops itself (SIGSTOP) on the N-th pass, N
 * given by a system property: the test then kills the proxy, QEMU or the broker at exactly that
 * point, and kills or continues the proxy. Without the property it never stops. Any thread: one
 * orchestration, undo or recovery passes at a time, but they run on different threads.
 */
final class FaultPoint {
    private static final Logger LOG = Logger.getLogger(FaultPoint.class.getName());

    private final String property;
    private final int stopAt;
    private int passes;

    FaultPoint(String property) {
        this.property = property;
        this.stopAt = Integer.getInteger(property, -1);
    }

    /** Counting starts again (a new snapshot's journal). */
    synchronized void reset() {
        passes = 0;
    }

    /** One more pass; stops the process if it is the configured one. */
    synchronized void pass(Object what) {
        passes++;
        if (passes != stopAt) {
            return;
        }
        LOG.severe("fault injection (" + property + "): stopping at pass " + passes + ": " + what);
        try {
            new ProcessBuilder("kill", "-STOP", Long.toString(ProcessHandle.current().pid())).start().waitFor();
        } catch (IOException e) {
            LOG.severe("fault injection: cannot stop: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
