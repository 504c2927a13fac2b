package dev.qmpx.proxy.routing;

import dev.qmpx.proxy.downstream.ClientSession;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * query-named-block-nodes held back while a snapshot prepares its overlays. QEMU 7.2 aborts
 * ({@code qcow2_get_specific_info: Assertion `false' failed}) when it lists a qcow2 node that a
 * blockdev-create job is still opening (qemu-facts §14), and a snapshot formats its overlays with
 * such jobs; the hold lasts from the blockdev-add of the overlay's temporary file node to its
 * blockdev-del, so no client sees that node either. The sessions whose next command is a listing
 * wait here (their later commands behind it, as for the job), and so do the proxy's own listings (a
 * target check, the fdset collector), out of its queue so that the orchestration's commands behind
 * them still go.
 *
 * <p>Owned by its {@link Guest}: loop thread only.
 */
final class NodeListingHold {
    static final String COMMAND = "query-named-block-nodes";

    private boolean active;
    private final Set<ClientSession> sessions = new LinkedHashSet<>();
    private final ArrayDeque<Outgoing> own = new ArrayDeque<>();

    void begin() {
        active = true;
    }

    /** Whether this command, next in line, must wait. */
    boolean holds(Outgoing next) {
        return active && next.name().equals(COMMAND);
    }

    void park(ClientSession session) {
        sessions.add(session);
    }

    void park(Outgoing proxysOwn) {
        own.add(proxysOwn);
    }

    boolean parked(ClientSession session) {
        return sessions.contains(session);
    }

    void forget(ClientSession session) {
        sessions.remove(session);
    }

    /**
     * The snapshot's overlays are ready: the proxy's own listings go back to the front of its queue,
     * in their order; returns the sessions to schedule again.
     */
    List<ClientSession> end(Deque<Outgoing> proxysQueue) {
        active = false;
        while (!own.isEmpty()) {
            proxysQueue.addFirst(own.pollLast());
        }
        List<ClientSession> waiting = List.copyOf(sessions);
        sessions.clear();
        return waiting;
    }

    /** The connection to QEMU is gone: the proxy's own listings that will never be sent. */
    List<Outgoing> dropAll() {
        List<Outgoing> dropped = List.copyOf(own);
        own.clear();
        sessions.clear();
        return dropped;
    }
}
