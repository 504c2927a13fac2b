package dev.qmpx.proxy.downstream;

import java.util.logging.Logger;

/**
 * The unix clients of one guest, over all its listeners: the loop's reader they share, and their
 * number, bounded by --max-clients. Each client may hold up to --max-message-bytes of unfinished
 * input and --client-output-limit of unsent output, so the bound on clients is what bounds the
 * guest's memory. Loop thread only (one guest, one loop).
 */
public final class UnixClients {
    private static final Logger LOG = Logger.getLogger(UnixClients.class.getName());
    /** A refusal is logged at once, then at most this often, with how many it stands for. */
    private static final long REFUSAL_LOG_NANOS = 10_000_000_000L;

    public static final int DEFAULT_MAX = 64;

    private final ClientReads reads = new ClientReads();
    private final int max;
    private int connected;
    private long lastRefusalLog = System.nanoTime() - REFUSAL_LOG_NANOS;
    private int refusedSinceLog;

    public UnixClients(int max) {
        this.max = max;
    }

    ClientReads reads() {
        return reads;
    }

    int max() {
        return max;
    }

    /** Counts a new client in, or answers false (and logs the refusal) when the guest has max. */
    boolean admit(String guest, Peer peer) {
        if (connected < max) {
            connected++;
            return true;
        }
        refusedSinceLog++;
        long now = System.nanoTime();
        if (now - lastRefusalLog >= REFUSAL_LOG_NANOS) {
            LOG.warning(guest + ": refused " + refusedSinceLog + " unix client(s) since the last such line: "
                    + connected + " connected, --max-clients " + max + " (latest: " + peer + ")");
            lastRefusalLog = now;
            refusedSinceLog = 0;
        }
        return false;
    }

    void left() {
        connected--;
    }
}
