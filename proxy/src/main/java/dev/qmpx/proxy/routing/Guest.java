package dev.qmpx.proxy.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.downstream.ClientSession;
import dev.qmpx.proxy.downstream.Peer;
import dev.qmpx.proxy.downstream.ProxyCommands;
import dev.qmpx.proxy.fds.ClientFds;
import dev.qmpx.proxy.fds.FdsetIds;
import dev.qmpx.proxy.fds.GetfdRecord;
import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.metrics.GuestMetrics;
import dev.qmpx.proxy.paths.BrokerCalls;
import dev.qmpx.proxy.paths.BrokeredFdsets;
import dev.qmpx.proxy.orchestration.SnapshotJournal;
import dev.qmpx.proxy.orchestration.SnapshotOrchestration;
import dev.qmpx.proxy.orchestration.SnapshotUndo;
import dev.qmpx.proxy.policy.CommandAudit;
import dev.qmpx.proxy.policy.Role;
import dev.qmpx.proxy.upstream.UpstreamLink;
import dev.qmpx.qmp.catalogue.CommandCatalogue;
import dev.qmpx.qmp.catalogue.CommandClass;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.QemuJson;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpWire;
import dev.qmpx.qmp.message.UpstreamEncoding;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One guest: its QEMU monitor connection, its client sessions, the routing between them, and the
 * guest's job. Every field is confined to the guest's loop thread (THREADS.md); other threads reach
 * it only through {@link EventLoop#execute}.
 *
 * <p>Upstream ids are the proxy's own, short decimal numbers: QEMU answers a monitor's commands in
 * order, so uniqueness among the commands in flight is enough, and every byte of id costs QEMU
 * about 1.5 µs to read. The client's id never goes upstream; it is spliced back into the reply.
 *
 * <p>The job (libvirt's lesson): commands that change state run one client at a time. A client
 * holds the job while its modify commands are in flight, or from __dev.qmpx_job-begin to
 * __dev.qmpx_job-end. Others' modify commands wait for it in FIFO order, up to the job-wait bound,
 * then fail naming the holder; nothing of theirs is sent meanwhile. Queries never wait for it.
 */
public final class Guest implements UpstreamLink.Listener {
    private static final Logger LOG = Logger.getLogger(Guest.class.getName());
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int ID_SPACE = 256;
    private static final long GREETING_WARN_MILLIS = 5_000;
    private static final long COLLECT_DELAY_MILLIS = 50;
    /** Client commands after which a node may have let go of a brokered fdset. */
    private static final Set<String> NODE_RELEASING_COMMANDS = Set.of("blockdev-del", "transaction",
            "blockdev-snapshot", "blockdev-snapshot-sync", "blockdev-change-medium", "blockdev-remove-medium", "eject",
            "x-blockdev-change", "blockdev-reopen", "job-dismiss", "job-finalize", "block-job-dismiss", "block-job-finalize",
            "block-job-complete", "job-complete", "block-job-cancel", "job-cancel");
    /** Events after which a node may have let go of a brokered fdset. */
    private static final Set<String> NODE_RELEASING_EVENTS = Set.of("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED",
            "DEVICE_DELETED", "DEVICE_TRAY_MOVED");

    /** LEARNING: negotiated, asking QEMU what it offers before greeting clients. */
    private enum State { CONNECTING, AWAITING_GREETING, NEGOTIATING, LEARNING, READY, GONE }

    /** Who holds the guest's job. */
    private static final class Job {
        final ClientSession holder;
        final long sinceNanos = System.nanoTime();
        String command;
        boolean explicit;
        /** An orchestration (snapshot) runs under it: the idle bound does not apply. */
        boolean orchestrating;
        int commandsInFlight;

        Job(ClientSession holder, String command, boolean explicit) {
            this.holder = holder;
            this.command = command;
            this.explicit = explicit;
        }
    }

    /** A session waiting for the job: since when, and the timer that ends its wait. */
    private record JobWait(EventLoop.Timer timer, long sinceNanos) {
    }

    /** A command sent upstream and not yet answered (or answered late, after its timeout). */
    private static final class InFlight {
        final String id;
        final Outgoing outgoing;
        final ClientSession owner;
        /** Sent without an id: its reply is the next id-less one (QEMU answers a monitor in order). */
        final boolean bare;
        final long sentNanos = System.nanoTime();
        EventLoop.Timer timer;
        boolean timedOut;
        boolean underJob;

        InFlight(String id, Outgoing outgoing, ClientSession owner, boolean bare) {
            this.id = id;
            this.outgoing = outgoing;
            this.owner = owner;
            this.bare = bare;
        }
    }

    private final GuestConfig config;
    private final EventLoop loop;
    private final UpstreamLink upstream;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final Set<ClientSession> sessions = new LinkedHashSet<>();
    /** Sessions with queued commands, served round-robin so one busy client cannot starve another. */
    private final ArrayDeque<ClientSession> ring = new ArrayDeque<>();
    private final Map<String, InFlight> inFlight = new HashMap<>();
    /** The same commands in the order they were sent: QEMU answers them in this order. */
    private final ArrayDeque<InFlight> sentOrder = new ArrayDeque<>();
    /** The proxy's own commands (start-up queries, cleanup after clients); sent before clients'. */
    private final ArrayDeque<Outgoing> internal = new ArrayDeque<>();
    /** Sessions whose next command waits for the job, in arrival order, with their wait timers. */
    private final LinkedHashMap<ClientSession, JobWait> jobWaiters = new LinkedHashMap<>();
    private final NodeListingHold nodeListingHold = new NodeListingHold();
    private final FdsetIds fdsetIds = new FdsetIds();
    private final BrokeredFdsets brokeredFdsets = new BrokeredFdsets();
    private final SnapshotJournal snapshotJournal;
    private final GetfdRecord getfdRecord;
    private boolean collectScheduled;
    /** Snapshots running on their threads: the process exits only after they have cleaned up. */
    private int orchestrations;
    private final BrokerCalls brokerCalls;
    private final GuestMetrics metrics;
    private State state = State.CONNECTING;
    private byte[] greetingLine;
    private String negotiationId;
    private CommandCatalogue catalogue = CommandCatalogue.empty();
    private volatile long qemuPid = -1;
    private int nextId;
    private boolean fdCommandInFlight;
    /** An argument rule's probe is in flight: nothing else is sent until its guarded command has gone. */
    private boolean probeInFlight;
    private boolean sawShutdown;
    private int connectAttempts;
    private EventLoop.Timer greetingTimer;
    private Job job;
    private EventLoop.Timer jobIdleTimer;
    private EventLoop.Timer jobMaxTimer;
    /** Orchestrations waiting for an event: a test and the future it completes. */
    private final List<Map.Entry<java.util.function.Predicate<JsonNode>, CompletableFuture<JsonNode>>> eventWaiters = new ArrayList<>();

    public Guest(GuestConfig config, EventLoop loop) {
        this.config = config;
        this.loop = loop;
        this.upstream = new UpstreamLink(loop, config.qemuSocket(), this);
        this.snapshotJournal = new SnapshotJournal(config.stateDir(), config.name());
        this.getfdRecord = new GetfdRecord(config.stateDir(), config.name());
        this.metrics = config.metrics().guest(config.name());
        this.brokerCalls = config.broker() == null ? null : new BrokerCalls(config.broker(),
                java.time.Duration.ofMillis(config.brokerTimeoutMillis()), config.name(), metrics);
    }

    /** Opens files through the broker for this guest, or null when QEMU opens them itself. */
    public BrokerCalls brokerCalls() {
        return brokerCalls;
    }

    /** The guest's fdsets made from broker fds. Loop thread. */
    public BrokeredFdsets brokeredFdsets() {
        return brokeredFdsets;
    }

    /** Removes fdsets made from broker fds for a command QEMU refused, or that no node uses. Loop thread. */
    public void removeBrokeredFdsets(java.util.Collection<Long> upstreamIds) {
        for (long id : upstreamIds) {
            brokeredFdsets.removed(id);
            if (state == State.READY || state == State.LEARNING) {
                internal("remove-fd", JsonNodeFactory.instance.objectNode().put("fdset-id", id), r -> { });
            }
        }
    }

    /**
     * Soon, removes the brokered fdsets no node uses any more: after a node went away (blockdev-del,
     * a finished block job, a changed medium, a client that left with commands unsent). Several
     * triggers close together make one pass.
     */
    private void collectUnusedFdsetsSoon() {
        if (collectScheduled || brokeredFdsets.isEmpty()) {
            return;
        }
        collectScheduled = true;
        loop.schedule(COLLECT_DELAY_MILLIS, () -> {
            collectScheduled = false;
            if (state != State.READY) {
                return;
            }
            internal("query-fdsets", null, sets -> internal("query-named-block-nodes", null, nodes -> {
                List<Long> unused = brokeredFdsets.unused(sets.asTree().path("return"), nodes.asTree().path("return"));
                if (!unused.isEmpty()) {
                    LOG.info(config.name() + ": removing " + unused.size() + " brokered fdset(s) no block node uses: " + unused);
                    removeBrokeredFdsets(unused);
                }
            }));
        });
    }

    /** The write-ahead record of this guest's snapshot in progress. Any thread (it locks itself). */
    public SnapshotJournal snapshotJournal() {
        return snapshotJournal;
    }

    /** The getfd names of this guest's clients, kept for a later proxy. Loop thread. */
    public GetfdRecord getfdRecord() {
        return getfdRecord;
    }

    /** The pid of the QEMU behind the monitor connection, as of the last connect. Any thread. */
    public long qemuPid() {
        return qemuPid;
    }

    public GuestConfig config() {
        return config;
    }

    public EventLoop loop() {
        return loop;
    }

    public FdsetIds fdsetIds() {
        return fdsetIds;
    }

    /** QEMU's commands, as of the last negotiation. */
    public CommandCatalogue catalogue() {
        return catalogue;
    }

    /** Completes with the process exit status when this guest's proxy has nothing left to do. */
    public CompletableFuture<Integer> exit() {
        return exit;
    }

    public void start() {
        loop.execute(this::connectUpstream);
    }

    private void connectUpstream() {
        String failure = upstream.connect();
        if (failure == null) {
            qemuPid = upstream.peerPid();
            LOG.info(config.name() + ": connected to QEMU monitor " + config.qemuSocket() + " (QEMU pid " + qemuPid + ")");
            state = State.AWAITING_GREETING;
            connectAttempts = 0;
            greetingTimer = loop.schedule(GREETING_WARN_MILLIS, () -> LOG.warning(config.name()
                    + ": no greeting from QEMU after " + GREETING_WARN_MILLIS / 1000
                    + " s; is another client holding its monitor? (QEMU serves one at a time)"));
            return;
        }
        connectAttempts++;
        if (connectAttempts == 1 || connectAttempts % 100 == 0) {
            LOG.info(config.name() + ": waiting for QEMU monitor " + config.qemuSocket() + " (" + failure
                    + "), attempt " + connectAttempts);
        }
        loop.schedule(Math.min(20L * connectAttempts, 500L), this::connectUpstream);
    }

    // --- clients ---

    /** A new client session; it is greeted once QEMU's greeting is known. */
    public void attach(ClientSession session) {
        sessions.add(session);
        Peer peer = session.transport().peer();
        metrics.clientConnected(session, session.name(), peer.pid(), peer.uid(), sessions.size());
        LOG.info(config.name() + ": " + session.name() + " connected (" + session.transport().peer()
                + ", role " + session.role().name() + ")");
        if (state == State.READY || session.role() == Role.NONE) {
            session.greet(greetingLine); // a client with no role is refused at once, whether QEMU is there or not
        }
    }

    public void detach(ClientSession session, String reason) {
        sessions.remove(session);
        metrics.clientDisconnected(session, sessions.size());
        if (session.isScheduled()) {
            ring.remove(session);
            session.setScheduled(false);
        }
        JobWait waiting = jobWaiters.remove(session);
        if (waiting != null) {
            waiting.timer().cancel();
        }
        nodeListingHold.forget(session);
        if (job != null && job.holder == session) {
            job.explicit = false;
            if (job.commandsInFlight == 0) {
                releaseJob();
            }
        }
        LOG.info(config.name() + ": " + session.name() + " disconnected (" + reason + "; " + session.transport().peer() + ")");
        brokeredFdsets.userGone(session);
        collectUnusedFdsetsSoon();
        pump();
    }

    /** The session queued a command: schedule it. */
    public void submit(ClientSession session) {
        schedule(session);
        pump();
    }

    private void schedule(ClientSession session) {
        if (!session.isScheduled() && !jobWaiters.containsKey(session) && !nodeListingHold.parked(session)
                && session.hasQueued()) {
            session.setScheduled(true);
            ring.add(session);
        }
    }

    /**
     * Sends queued commands while the in-flight bound allows: the proxy's own first, then one per
     * session in turn. A session whose next command needs the job another client holds leaves the
     * ring and waits for it (its later commands wait behind it, keeping its order).
     */
    private void pump() {
        if (state != State.READY && state != State.LEARNING) {
            return;
        }
        while (inFlight.size() < config.maxInFlight() && !fdCommandInFlight && !probeInFlight) {
            ClientSession from = null;
            Outgoing next;
            if (!internal.isEmpty()) {
                next = internal.peek();
            } else if (state == State.READY && !ring.isEmpty()) {
                from = ring.peek();
                next = from.peekQueued();
                if (next == null) {
                    ring.poll();
                    from.setScheduled(false);
                    continue;
                }
            } else {
                return;
            }
            if (nodeListingHold.holds(next)) {
                if (from == null) {
                    nodeListingHold.park(internal.poll());
                } else {
                    ring.poll();
                    from.setScheduled(false);
                    nodeListingHold.park(from);
                }
                continue;
            }
            if (from != null && next.needsJob() && mustWaitForJob(from)) {
                ring.poll();
                from.setScheduled(false);
                awaitJob(from);
                continue;
            }
            // An fd-carrying command goes alone: nothing before it unanswered, nothing after it sent.
            if (next.carriesFds() && !inFlight.isEmpty()) {
                return;
            }
            if (from == null) {
                internal.poll();
            } else {
                ring.poll();
                from.pollQueued();
                from.setScheduled(false);
                schedule(from);
            }
            if (next.kind() == Outgoing.Kind.UPSTREAM) {
                send(next, from);
            } else {
                jobRequest(from, next);
            }
        }
    }

    private String allocateId() {
        while (true) {
            String id = Integer.toString(nextId);
            nextId = (nextId + 1) % ID_SPACE;
            if (!inFlight.containsKey(id)) {
                return id;
            }
        }
    }

    private void send(Outgoing outgoing, ClientSession from) {
        if (!upstream.isConnected()) {
            outgoing.closeFds();
            outgoing.handler().onNotSent(QmpError.generic("qmpx: not connected to QEMU"));
            return;
        }
        if (outgoing.guard() != null) {
            sendGuarded(outgoing, from);
            return;
        }
        String id = allocateId();
        // Negotiated with this QEMU (state READY or LEARNING), so a stale reply of an earlier
        // connection (qemu-facts §0.4), which comes before the negotiation's, cannot be taken for it.
        boolean bare = outgoing.handler().routesWithoutId();
        InFlight entry = new InFlight(id, outgoing, from, bare);
        if (from != null && outgoing.needsJob()) {
            if (job == null) {
                job = new Job(from, outgoing.name(), false);
            }
            job.command = outgoing.name();
            job.commandsInFlight++;
            entry.underJob = true;
        }
        if (job != null && job.explicit && job.holder == from && outgoing.needsJob()) {
            restartJobIdleTimer(); // a query never keeps a job: only commands that need it count as use
        }
        long timeout = config.timeouts().replyMillis(outgoing.commandClass());
        entry.timer = loop.schedule(timeout, () -> replyTimedOut(id, entry, timeout));
        inFlight.put(id, entry);
        sentOrder.add(entry);
        metrics.inFlight(inFlight.size());
        if (outgoing.carriesFds()) {
            fdCommandInFlight = true;
            metrics.fdsPassed(outgoing.prelude(), outgoing.fds().length);
        }
        upstream.send(bare ? UpstreamEncoding.withoutId(outgoing.prefix()) : UpstreamEncoding.withId(outgoing.prefix(), id),
                outgoing.fds());
        outgoing.closeFds();
    }

    /**
     * An argument rule's probe, then the command: nothing else is sent while the probe is in flight
     * and the command goes as soon as it is answered, so QEMU runs nothing between the two and the
     * probe's answer still holds when the command runs.
     */
    private void sendGuarded(Outgoing guarded, ClientSession from) {
        Outgoing.Guard guard = guarded.guard();
        probeInFlight = true;
        send(new Outgoing(guard.name(), CommandClass.QUERY, guard.prefix(), new ReplyHandler() {
            @Override
            public void onReply(JsonMessage reply, JsonMessage.Member proxyId) {
                probeInFlight = false;
                if (reply.member("error") != null) {
                    guarded.handler().onReply(reply, proxyId); // the command itself would fail alike (say, no such object)
                    return;
                }
                QmpError refusal = guard.refusal().apply(reply.asTree().path("return"));
                if (refusal == null) {
                    send(guarded.withoutGuard(), from);
                } else {
                    audit(from, guarded.name(), "denied", System.nanoTime());
                    metrics.ended(commandLabel(guarded.name()), "denied");
                    guarded.handler().onAbandoned(refusal);
                }
            }

            @Override
            public void onAbandoned(QmpError reason) {
                probeInFlight = false;
                guarded.handler().onAbandoned(reason);
            }
        }), null);
    }

    /** QEMU is busy, not necessarily gone: the client is told, the upstream stays, the late reply is dropped. */
    private void replyTimedOut(String id, InFlight entry, long timeoutMillis) {
        if (inFlight.get(id) != entry || entry.timedOut) {
            return;
        }
        entry.timedOut = true;
        boolean alive = qemuPid > 0 && ProcessHandle.of(qemuPid).map(ProcessHandle::isAlive).orElse(false);
        String qemu = alive ? "QEMU (pid " + qemuPid + ") is alive and its monitor connection open, so it is busy; "
                + "its late reply will be dropped" : "QEMU (pid " + qemuPid + ") is gone";
        LOG.warning(config.name() + ": no reply to '" + entry.outgoing.name() + "' within " + timeoutMillis
                + " ms; " + qemu);
        audit(entry.owner, entry.outgoing, "timeout", entry.sentNanos);
        if (fromClient(entry.owner, entry.outgoing)) {
            metrics.ended(commandLabel(entry.outgoing.name()), "timeout");
        }
        entry.outgoing.handler().onAbandoned(QmpError.generic("qmpx: no reply from QEMU to '"
                + entry.outgoing.name() + "' within " + seconds(timeoutMillis) + "; " + qemu));
    }

    // --- the job ---

    /**
     * Whether the session's next state-changing command must wait for the job: another client holds
     * it, or this client holds it only while its commands run (no job-begin), has some running, and
     * others are waiting, so that a client keeping commands queued cannot keep the job for ever.
     */
    private boolean mustWaitForJob(ClientSession session) {
        if (job == null) {
            return false;
        }
        if (job.holder != session) {
            return true;
        }
        // Yield only while commands of its own are running: their end then hands the job on. A job
        // just handed to this client (nothing running yet) is used, or nobody would ever release it.
        return !job.explicit && job.commandsInFlight > 0 && !jobWaiters.isEmpty();
    }

    private void awaitJob(ClientSession session) {
        if (jobWaiters.containsKey(session)) {
            return;
        }
        jobWaiters.put(session, new JobWait(loop.schedule(config.timeouts().jobWaitMillis(), () -> jobWaitExpired(session)),
                System.nanoTime()));
    }

    private void jobWaitExpired(ClientSession session) {
        JobWait wait = jobWaiters.remove(session);
        if (wait == null || session.isClosed()) {
            return;
        }
        metrics.jobWaited(wait.sinceNanos());
        Outgoing refused = session.pollQueued();
        refused.closeFds();
        // The proxy's own add-fds ahead of a client's command are refused with it, as one unit.
        while (refused.prelude()) {
            refused = session.pollQueued();
            refused.closeFds();
        }
        String holder = describeJob();
        LOG.warning(config.name() + ": " + session.name() + "'s '" + refused.name() + "' waited "
                + seconds(config.timeouts().jobWaitMillis()) + " for the job, held by " + holder);
        audit(session, refused, "job-wait-timeout", wait.sinceNanos());
        metrics.ended(commandLabel(refused.name()), "job-wait-timeout");
        refused.handler().onAbandoned(QmpError.generic("qmpx: '" + refused.name() + "' waited "
                + seconds(config.timeouts().jobWaitMillis()) + " for the guest's job, held by " + holder));
        schedule(session);
        pump();
    }

    private void jobRequest(ClientSession from, Outgoing request) {
        if (request.kind() == Outgoing.Kind.JOB_BEGIN) {
            if (job != null && job.explicit) {
                request.handler().onAbandoned(QmpError.generic("qmpx: this client already holds the job"));
                return;
            }
            if (job == null) {
                job = new Job(from, request.name(), true);
            }
            job.explicit = true;
            job.command = request.name();
            restartJobIdleTimer();
            startJobMaxTimer();
            audit(from, request, "return", System.nanoTime());
            LOG.info(config.name() + ": " + from.name() + " took the job");
            request.handler().onLocalReturn("{}");
        } else if (request.kind() == Outgoing.Kind.SNAPSHOT) {
            if (job == null) {
                job = new Job(from, request.name(), false);
            }
            Job held = job;
            boolean wasExplicit = held.explicit;
            held.explicit = true;
            held.orchestrating = true;
            held.command = request.name();
            LOG.info(config.name() + ": " + from.name() + " started a snapshot");
            orchestrations++;
            SnapshotOrchestration.start(this, request.name(), request.arguments(), outcome -> loop.execute(() -> {
                held.orchestrating = false;
                orchestrations--;
                if (state == State.GONE && orchestrations == 0) {
                    exit.complete(3);
                }
                if (!wasExplicit && job == held) {
                    held.explicit = false;
                    if (held.commandsInFlight == 0) {
                        releaseJob();
                    }
                }
                if (outcome.error() == null) {
                    request.handler().onLocalReturn(outcome.returnJson());
                } else {
                    request.handler().onAbandoned(QmpError.generic(outcome.error()));
                }
                from.resume();
            }));
        } else if (job != null && job.holder == from && job.explicit) {
            job.explicit = false;
            audit(from, request, "return", System.nanoTime());
            LOG.info(config.name() + ": " + from.name() + " released the job");
            request.handler().onLocalReturn("{}");
            if (job.commandsInFlight == 0) {
                releaseJob();
            }
        } else {
            request.handler().onAbandoned(QmpError.generic("qmpx: this client holds no job (see __dev.qmpx_job-begin)"));
        }
    }

    private void restartJobIdleTimer() {
        if (jobIdleTimer != null) {
            jobIdleTimer.cancel();
        }
        Job held = job;
        jobIdleTimer = loop.schedule(config.timeouts().jobIdleMillis(), () -> {
            if (job == held && held.explicit && held.commandsInFlight > 0) {
                restartJobIdleTimer(); // idle means no command running or sent: count again from now
                return;
            }
            if (job == held && held.explicit && !held.orchestrating) {
                revokeHold(held, "released after " + seconds(config.timeouts().jobIdleMillis()) + " without a command (--job-idle)");
            }
        });
    }

    /** The bound on a job-begin hold as a whole, however busy the holder keeps it. */
    private void startJobMaxTimer() {
        if (jobMaxTimer != null) {
            jobMaxTimer.cancel();
        }
        Job held = job;
        jobMaxTimer = loop.schedule(config.timeouts().jobMaxMillis(), () -> checkJobMax(held));
    }

    private void checkJobMax(Job held) {
        if (job != held || !held.explicit) {
            return;
        }
        if (held.orchestrating) {
            jobMaxTimer = loop.schedule(1000, () -> checkJobMax(held)); // a snapshot is never cut; it has bounds of its own
            return;
        }
        revokeHold(held, "released after " + seconds(config.timeouts().jobMaxMillis()) + " (--job-max)");
    }

    /**
     * __dev.qmpx_job-break: another client (an admin, by the policy) takes a job-begin hold away.
     * Commands of the holder's still running keep the job until QEMU answers them.
     *
     * @return null when broken, else why not
     */
    public QmpError breakJob(ClientSession breaker) {
        if (job == null || !job.explicit) {
            return QmpError.generic("qmpx: no client holds the job with __dev.qmpx_job-begin"
                    + (job == null ? "" : "; " + describeJob() + " holds it until QEMU answers"));
        }
        if (job.holder == breaker) {
            return QmpError.generic("qmpx: this client holds the job itself; end it with __dev.qmpx_job-end");
        }
        if (job.orchestrating) {
            return QmpError.generic("qmpx: " + describeJob() + " is taking a snapshot; the job is released when it ends");
        }
        Peer peer = breaker.transport().peer();
        revokeHold(job, "broken by " + breaker.name() + " (pid " + peer.pid() + ", uid " + peer.uid()
                + ") with __dev.qmpx_job-break after " + seconds((System.nanoTime() - job.sinceNanos) / 1_000_000L));
        return null;
    }

    /** Ends a job-begin hold its holder did not end: logged, and the holder's next command is told why. */
    private void revokeHold(Job held, String why) {
        LOG.warning(config.name() + ": " + held.holder.name() + "'s job " + why);
        held.explicit = false;
        held.holder.jobRevoked("qmpx: the job this client took with __dev.qmpx_job-begin was " + why);
        if (held.commandsInFlight == 0) {
            releaseJob();
        }
    }

    /** Frees the job and hands it to the first waiter, so waiters get it in order. */
    private void releaseJob() {
        job = null;
        if (jobIdleTimer != null) {
            jobIdleTimer.cancel();
            jobIdleTimer = null;
        }
        if (jobMaxTimer != null) {
            jobMaxTimer.cancel();
            jobMaxTimer = null;
        }
        while (!jobWaiters.isEmpty()) {
            ClientSession next = jobWaiters.keySet().iterator().next();
            JobWait wait = jobWaiters.remove(next);
            wait.timer().cancel();
            metrics.jobWaited(wait.sinceNanos());
            if (!next.isClosed() && next.hasQueued()) {
                job = new Job(next, next.peekQueued().name(), false);
                schedule(next);
                break;
            }
        }
        pump();
    }

    private String describeJob() {
        if (job == null) {
            return "nobody";
        }
        Peer peer = job.holder.transport().peer();
        return job.holder.name() + " (pid " + peer.pid() + ", uid " + peer.uid() + ") "
                + (job.explicit ? "with __dev.qmpx_job-begin, last running '" + job.command + "'," : "running '" + job.command + "'")
                + " for " + seconds((System.nanoTime() - job.sinceNanos) / 1_000_000L);
    }

    private static String seconds(long millis) {
        return String.format("%.1f s", millis / 1000.0);
    }

    /** Whether the audit records this command: a client's, not a query, not the proxy's own add-fd. */
    /** A client's own command, not one the proxy sent for it (a prelude) or for itself: what metrics count. */
    private static boolean fromClient(ClientSession session, Outgoing outgoing) {
        return session != null && !outgoing.prelude();
    }

    private static boolean audited(ClientSession session, Outgoing outgoing) {
        return fromClient(session, outgoing) && outgoing.commandClass() != CommandClass.QUERY;
    }

    private void audit(ClientSession session, Outgoing outgoing, String result, long sinceNanos) {
        if (audited(session, outgoing)) {
            audit(session, outgoing.name(), result, sinceNanos);
        }
    }

    /** Records a client's command in the command audit: one that changes state, or one refused. */
    public void audit(ClientSession session, String command, String result, long sinceNanos) {
        Peer peer = session.transport().peer();
        try {
            config.audit().record(config.name(), new CommandAudit.Client(session.name(), peer.pid(), peer.uid(), peer.gid(),
                    peer.listener()), command, result, (System.nanoTime() - sinceNanos) / 1000);
        } catch (RuntimeException e) {
            // The audit failing must not take the guest's monitor connection down.
            LOG.severe(config.name() + ": cannot write the command audit: " + e.getMessage());
        }
    }

    /** The value of __dev.qmpx_clients: every client, and who holds the job. */
    public String clientsJson() {
        ArrayNode clients = MAPPER.createArrayNode();
        for (ClientSession session : sessions) {
            Peer peer = session.transport().peer();
            long commandsInFlight = inFlight.values().stream().filter(f -> f.owner == session && !f.timedOut).count();
            clients.addObject().put("client", session.name()).put("pid", peer.pid()).put("uid", peer.uid())
                    .put("gid", peer.gid()).put("listener", peer.listener()).put("role", session.role().name())
                    .put("in-flight", commandsInFlight).put("queued", session.queuedCount())
                    .put("waiting-for-job", jobWaiters.containsKey(session));
        }
        ObjectNode value = MAPPER.createObjectNode().set("clients", clients);
        if (job == null) {
            value.putNull("job");
        } else {
            value.putObject("job").put("holder", job.holder.name()).put("command", job.command)
                    .put("explicit", job.explicit).put("held-ms", (System.nanoTime() - job.sinceNanos) / 1_000_000L);
        }
        return QemuJson.write(value);
    }

    // --- orchestrations (any thread) ---

    /**
     * Sends a command of the proxy's own, with an fd if not null, and completes with QEMU's whole
     * reply (return or error). It bypasses the job: only orchestrations running under their
     * client's job call it. Any thread.
     */
    public CompletableFuture<JsonNode> call(String name, ObjectNode arguments, java.io.FileDescriptor fd) {
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        loop.execute(() -> {
            if (state != State.READY && state != State.LEARNING) {
                dev.qmpx.proxy.fds.PendingFds.close(fd);
                reply.completeExceptionally(new NotSentException("not connected to QEMU"));
                return;
            }
            java.io.FileDescriptor[] fds = fd == null ? new java.io.FileDescriptor[0] : new java.io.FileDescriptor[] {fd};
            internal.add(new Outgoing(name, CommandCatalogue.classify(name), UpstreamEncoding.prefix(name, arguments), fds,
                    new ReplyHandler() {
                        @Override
                        public void onReply(JsonMessage message, JsonMessage.Member proxyId) {
                            reply.complete(message.asTree());
                        }

                        @Override
                        public void onAbandoned(QmpError reason) {
                            reply.completeExceptionally(new IOException(reason.desc()));
                        }

                        @Override
                        public void onNotSent(QmpError reason) {
                            reply.completeExceptionally(new NotSentException(reason.desc()));
                        }
                    }));
            pump();
        });
        return reply;
    }

    /**
     * The next event that passes the test; register it before sending what causes it. Cancel the
     * future when the event is no longer wanted. Any thread.
     */
    public CompletableFuture<JsonNode> nextEvent(java.util.function.Predicate<JsonNode> test) {
        CompletableFuture<JsonNode> event = new CompletableFuture<>();
        loop.execute(() -> eventWaiters.add(Map.entry(test, event)));
        return event;
    }

    /**
     * A fresh upstream fdset for a file the broker opened for an orchestration, pending until the
     * orchestration calls {@link #settleFdsets}. Any thread.
     */
    public CompletableFuture<Long> allocateFdset(String path, Object user) {
        CompletableFuture<Long> id = new CompletableFuture<>();
        loop.execute(() -> id.complete(brokeredFdsets.allocate(fdsetIds, path, user)));
        return id;
    }

    /**
     * An orchestration is about to format an overlay (a temporary node, a blockdev-create job): node
     * listings wait until {@link #releaseNodeListings} (see {@link NodeListingHold}). Any thread; the
     * job admits one orchestration at a time, and it lists no nodes itself meanwhile.
     */
    public void holdNodeListings() {
        loop.execute(nodeListingHold::begin);
    }

    /** The overlay is formatted (or the attempt is over): the node listings held back go. Any thread. */
    public void releaseNodeListings() {
        loop.execute(() -> {
            nodeListingHold.end(internal).forEach(this::schedule);
            pump();
        });
    }

    /** The orchestration is over: its sets are the guest's, or gone. Any thread. */
    public void settleFdsets(Object user) {
        loop.execute(() -> {
            brokeredFdsets.userGone(user);
            collectUnusedFdsetsSoon();
        });
    }

    /**
     * fdsets whose fds carry the tag of a qmpx client session that no longer exists (its proxy was
     * killed, or this proxy lost QEMU and reconnected) are removed, as QEMU would for a monitor that
     * went away: an unused set closes at once, a set a node uses goes with the node. Sets of a proxy
     * that is still running (another monitor of the same QEMU) are left alone.
     */
    private void removeOrphanedFdsets(JsonNode sets) {
        long ownPid = ProcessHandle.current().pid();
        List<Long> orphans = new ArrayList<>();
        for (JsonNode set : sets) {
            for (JsonNode fd : set.path("fds")) {
                var tag = dev.qmpx.proxy.fds.OpaqueTag.parse(fd.path("opaque").textValue());
                if (tag == null || tag.guestOwned()) {
                    continue;
                }
                long pid = tag.proxyPid();
                if (pid == ownPid || ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true)) {
                    orphans.add(set.path("fdset-id").asLong());
                    break;
                }
            }
        }
        if (!orphans.isEmpty()) {
            LOG.info(config.name() + ": removing " + orphans.size() + " fdset(s) left by qmpx clients that no longer exist: "
                    + orphans);
            orphans.forEach(id -> internal("remove-fd", JsonNodeFactory.instance.objectNode().put("fdset-id", id), r -> { }));
        }
    }

    // --- the proxy's own commands ---

    /** Queues a command of the proxy's own; failures are logged, not reported to anyone. */
    private void internal(String name, ObjectNode arguments, Consumer<JsonMessage> onReturn) {
        internal.add(new Outgoing(name, CommandCatalogue.classify(name), UpstreamEncoding.prefix(name, arguments), new ReplyHandler() {
            @Override
            public void onReply(JsonMessage reply, JsonMessage.Member proxyId) {
                if (reply.member("error") != null) {
                    LOG.info(config.name() + ": " + name + " " + arguments + ": " + text(reply));
                } else {
                    onReturn.accept(reply);
                }
            }

            @Override
            public void onAbandoned(QmpError reason) {
                LOG.info(config.name() + ": " + name + " not answered: " + reason.desc());
            }
        }));
        pump();
    }

    /**
     * A client left: close its getfd fds and remove its fdsets, as QEMU does for a monitor of its
     * own. remove-fd closes an unused set's fds at once; a set a block node uses stays until the
     * node lets go (QEMU's rule). Commands the client still had in flight are answered first.
     */
    public void releaseFds(ClientSession session, ClientFds fds) {
        if (fds.names().isEmpty() && fds.upstreamFdsets().isEmpty()) {
            return;
        }
        LOG.info(config.name() + ": " + session.name() + ": closing " + fds.names().size()
                + " getfd fd(s) and removing " + fds.upstreamFdsets().size() + " fdset(s) it left");
        if (state != State.READY) {
            return; // QEMU's own disconnect cleanup covers a monitor connection that is gone
        }
        for (String name : fds.names()) {
            closefd(fds.upstreamName(name));
        }
        for (long upstreamId : fds.upstreamFdsets()) {
            internal("remove-fd", JsonNodeFactory.instance.objectNode().put("fdset-id", upstreamId), r -> { });
        }
    }

    /** Closes a getfd fd a client left; the record forgets it either way (QEMU may have used it up). */
    private void closefd(String upstreamName) {
        getfdRecord.closed(upstreamName);
        internal("closefd", JsonNodeFactory.instance.objectNode().put("fdname", upstreamName), r -> { });
    }

    // --- upstream ---

    @Override
    public void onUpstreamMessage(JsonMessage message) {
        switch (state) {
            case AWAITING_GREETING -> onGreeting(message);
            case NEGOTIATING -> onNegotiationMessage(message);
            case LEARNING, READY -> route(message);
            default -> LOG.warning(config.name() + ": message from QEMU in state " + state + " dropped");
        }
    }

    private void onGreeting(JsonMessage message) {
        if (message.member("QMP") == null) {
            LOG.warning(config.name() + ": expected QEMU's greeting, dropped: " + text(message));
            return;
        }
        greetingTimer.cancel();
        greetingLine = QmpWire.line(message);
        state = State.NEGOTIATING;
        // A reply left over from an earlier monitor client may arrive first (qemu-facts §0.4): this
        // id, unique to this process and connection, tells ours apart.
        negotiationId = "\"qmpx-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + "\"";
        upstream.send(UpstreamEncoding.withId(UpstreamEncoding.prefix("qmp_capabilities", null), negotiationId), null);
    }

    private void onNegotiationMessage(JsonMessage message) {
        JsonMessage.Member id = message.member("id");
        if (id == null || !negotiationId.equals(idText(message, id))) {
            LOG.warning(config.name() + ": stale message from QEMU before negotiation, dropped: " + text(message));
            return;
        }
        if (message.member("error") != null) {
            LOG.severe(config.name() + ": QEMU refused qmp_capabilities: " + text(message));
            upstream.close("capabilities negotiation failed");
            return;
        }
        state = State.LEARNING;
        internal("query-qmp-schema", null, schema -> {
            catalogue = CommandCatalogue.fromSchema(schema.asTree().path("return"));
            internal("query-fdsets", null, fdsets -> {
                fdsets.asTree().path("return").forEach(set -> fdsetIds.reserve(set.path("fdset-id").asLong()));
                removeOrphanedFdsets(fdsets.asTree().path("return"));
                List<String> leftovers = getfdRecord.takeLeftovers();
                if (!leftovers.isEmpty()) {
                    LOG.info(config.name() + ": closing " + leftovers.size() + " getfd fd(s) clients of an earlier proxy left in QEMU");
                    leftovers.forEach(this::closefd);
                }
                brokeredFdsets.learn(fdsets.asTree().path("return"));
                if (brokerCalls == null) {
                    becomeReady();
                } else {
                    SnapshotUndo.recover(this, () -> loop.execute(this::becomeReady));
                }
            });
        });
    }

    private void becomeReady() {
        if (state != State.LEARNING) {
            return; // the connection went away during recovery
        }
        state = State.READY;
        metrics.upstreamReady(true);
        collectUnusedFdsetsSoon();
        LOG.info(config.name() + ": QMP negotiated with QEMU (" + catalogue.size() + " commands); serving clients");
        for (ClientSession session : List.copyOf(sessions)) {
            session.greet(greetingLine);
        }
        pump();
    }

    private void route(JsonMessage message) {
        if (message.member("event") != null) {
            byte[] line = QmpWire.line(message);
            String name = eventName(message);
            metrics.event(name);
            if (name.equals("SHUTDOWN")) {
                sawShutdown = true;
            }
            for (ClientSession session : List.copyOf(sessions)) {
                session.deliverEvent(line);
            }
            if (NODE_RELEASING_EVENTS.contains(name)) {
                collectUnusedFdsetsSoon();
            }
            if (!eventWaiters.isEmpty()) {
                JsonNode event = message.asTree();
                eventWaiters.removeIf(waiter -> waiter.getValue().isDone()
                        || waiter.getKey().test(event) && waiter.getValue().complete(event));
            }
            return;
        }
        JsonMessage.Member id = message.member("id");
        if (message.member("return") == null && message.member("error") == null) {
            LOG.warning(config.name() + ": unrecognised message from QEMU dropped: " + text(message));
            return;
        }
        InFlight entry;
        if (id == null) {
            entry = sentOrder.peek();
            if (entry == null || !entry.bare) {
                LOG.warning(config.name() + ": reply from QEMU without id dropped: " + text(message));
                return;
            }
            inFlight.remove(entry.id);
        } else {
            entry = inFlight.remove(idText(message, id));
            if (entry == null) {
                LOG.warning(config.name() + ": reply from QEMU with unknown id dropped: " + text(message));
                return;
            }
        }
        sentOrder.remove(entry);
        entry.timer.cancel();
        metrics.inFlight(inFlight.size());
        if (entry.outgoing.carriesFds()) {
            fdCommandInFlight = false;
        }
        if (entry.timedOut) {
            LOG.info(config.name() + ": late reply to '" + entry.outgoing.name() + "' (timed out) dropped: " + text(message));
            if (audited(entry.owner, entry.outgoing)) {
                audit(entry.owner, entry.outgoing, "late-" + result(message), entry.sentNanos);
            }
        } else {
            if (fromClient(entry.owner, entry.outgoing)) {
                String result = result(message);
                metrics.answered(entry.owner, commandLabel(entry.outgoing.name()), result, entry.sentNanos);
                audit(entry.owner, entry.outgoing, result, entry.sentNanos);
            }
            try {
                entry.outgoing.handler().onReply(message, id);
            } catch (RuntimeException e) {
                // One reply's mapping failing must not take the monitor connection down for everyone.
                LOG.log(java.util.logging.Level.SEVERE, config.name() + ": handling the reply to '" + entry.outgoing.name()
                        + "' failed; " + (entry.owner == null ? "" : entry.owner.name() + " gets an error"), e);
                entry.outgoing.handler().onAbandoned(QmpError.generic("qmpx: internal error handling QEMU's reply: " + e));
            }
        }
        if (entry.owner != null && NODE_RELEASING_COMMANDS.contains(entry.outgoing.name())) {
            collectUnusedFdsetsSoon();
        }
        if (entry.underJob && job != null) {
            job.commandsInFlight--;
            if (job.commandsInFlight == 0 && !job.explicit) {
                releaseJob();
            }
        }
        pump();
    }

    /** A command's name as a metrics label: QEMU's and the proxy's own names, any other as one. */
    public String commandLabel(String name) {
        return catalogue.exists(name) || ProxyCommands.isOwn(name) ? name : GuestMetrics.OTHER_COMMAND;
    }

    public GuestMetrics metrics() {
        return metrics;
    }

    /** The audit's result for a reply: "return" or QEMU's error class. */
    private static String result(JsonMessage reply) {
        return reply.member("error") != null ? reply.asTree().path("error").path("class").asText() : "return";
    }

    private static String eventName(JsonMessage message) {
        String quoted = new String(message.valueBytes(message.member("event")), StandardCharsets.UTF_8);
        return quoted.length() >= 2 ? quoted.substring(1, quoted.length() - 1) : quoted;
    }

    @Override
    public void onUpstreamClosed(String reason) {
        if (greetingTimer != null) {
            greetingTimer.cancel();
        }
        if (sawShutdown) {
            LOG.info(config.name() + ": QEMU shut down: " + reason);
        } else {
            LOG.warning(config.name() + ": lost QEMU monitor: " + reason);
        }
        QmpError abandoned = QmpError.generic("qmpx: QEMU closed the monitor before replying");
        // Not READY any more before sessions close: their cleanup must not queue commands for a dead link.
        state = config.reconnect() ? State.CONNECTING : State.GONE;
        metrics.upstreamReady(false);
        List<InFlight> pending = new ArrayList<>(inFlight.values());
        inFlight.clear();
        sentOrder.clear();
        metrics.inFlight(0);
        fdCommandInFlight = false;
        probeInFlight = false;
        ring.clear();
        // The proxy's own commands not sent yet are told so (an orchestration then knows QEMU never
        // ran them), and their fds closed.
        List<Outgoing> unsent = new ArrayList<>(internal);
        unsent.addAll(nodeListingHold.dropAll());
        internal.clear();
        jobWaiters.values().forEach(wait -> wait.timer().cancel());
        jobWaiters.clear();
        job = null;
        eventWaiters.forEach(waiter -> waiter.getValue().completeExceptionally(new IOException("QEMU went away")));
        eventWaiters.clear();
        for (InFlight entry : pending) {
            entry.timer.cancel();
            if (!entry.timedOut) {
                entry.outgoing.handler().onAbandoned(abandoned);
            }
        }
        QmpError notSent = QmpError.generic("qmpx: the connection to QEMU was lost before this was sent");
        for (Outgoing outgoing : unsent) {
            outgoing.closeFds();
            outgoing.handler().onNotSent(notSent);
        }
        for (ClientSession session : List.copyOf(sessions)) {
            session.setScheduled(false);
            session.upstreamLost(reason);
        }
        ring.clear();
        internal.clear();
        greetingLine = null;
        sawShutdown = false;
        if (config.reconnect()) {
            LOG.info(config.name() + ": --reconnect: waiting for QEMU to come back");
            loop.schedule(100, this::connectUpstream);
        } else if (orchestrations == 0) {
            exit.complete(3);
        } else {
            LOG.info(config.name() + ": exiting once the snapshot in progress has been undone");
        }
    }

    private static String idText(JsonMessage message, JsonMessage.Member id) {
        return new String(message.valueBytes(id), StandardCharsets.UTF_8);
    }

    private static String text(JsonMessage message) {
        String s = new String(message.text(), StandardCharsets.UTF_8);
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }
}
