package dev.qmpx.proxy.downstream;

import dev.qmpx.broker.wire.RefusalCount;

import java.util.logging.Logger;

/**
 * The unix clients of one guest, over all its listeners: the loop's reader they share, and their
 * number, bounded by --max-clients. Each client may hold up to --max-message-bytes of unfinished
 * input and --client-output-limit of unsent output, so the bound on clients is what bounds the
 * guest's memory. Admin clients and the others are counted in two pools of --max-clients each:
 * admin is trusted, as on QEMU's own monitor socket, and must never be locked out because
 * readonly or operator clients (who may be anyone the policy lets connect) filled the cap; the
 * guest's memory bound is then twice the one pool's. Loop thread only (one guest, one loop).
 */
public final class UnixClients {
    private static final Logger LOG = Logger.getLogger(UnixClients.class.getName());

    public static final int DEFAULT_MAX = 64;

    private final ClientReads reads = new ClientReads();
    private final int max;
    private final Pool admins = new Pool("admin");
    private final Pool others = new Pool("non-admin");
    private final RefusalCount refusals = new RefusalCount();

    public UnixClients(int max) {
        this.max = max;
    }

    ClientReads reads() {
        return reads;
    }

    int max() {
        return max;
    }

    /** The pool a client of this role is counted in. */
    Pool pool(boolean admin) {
        return admin ? admins : others;
    }

    /** Counts a new client in, or answers false (and logs the refusal) when its pool has max. */
    boolean admit(String guest, Peer peer, Pool pool) {
        if (pool.connected < max) {
            pool.connected++;
            return true;
        }
        long refused = refusals.refused();
        if (refused > 0) {
            LOG.warning(guest + ": refused " + refused + " unix client(s) since the last such line: "
                    + pool.connected + " " + pool.name + " clients connected, --max-clients " + max + " (latest: "
                    + peer + ")");
        }
        return false;
    }

    /** The clients of one kind (admin or not) connected now. */
    static final class Pool {
        private final String name;
        private int connected;

        private Pool(String name) {
            this.name = name;
        }

        String name() {
            return name;
        }

        void left() {
            connected--;
        }
    }
}
