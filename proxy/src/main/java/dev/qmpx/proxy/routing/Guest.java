package dev.qmpx.proxy.routing;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.downstream.ClientSession;
import dev.qmpx.proxy.fds.ClientFds;
import dev.qmpx.proxy.fds.FdsetIds;
import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.upstream.UpstreamLink;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpWire;
import dev.qmpx.qmp.message.UpstreamEncoding;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * One guest: its QEMU monitor connection, its client sessions, and the routing between them. Every
 * field is confined to the guest's loop thread (THREADS.md); other threads reach it only through
 * {@link EventLoop#execute}.
 *
 * <p>Upstream ids are the proxy's own, short decimal numbers: QEMU answers a monitor's commands in
 * order, so uniqueness among the commands in flight is enough, and every byte of id costs QEMU
 * about 1.5 µs to read. The client's id never goes upstream; it is spliced back into the reply.
 */
public final class Guest implements UpstreamLink.Listener {
    private static final Logger LOG = Logger.getLogger(Guest.class.getName());
    private static final int ID_SPACE = 256;
    private static final long GREETING_WARN_MILLIS = 5_000;

    /** LEARNING: negotiated, asking QEMU what it offers before greeting clients. */
    private enum State { CONNECTING, AWAITING_GREETING, NEGOTIATING, LEARNING, READY, GONE }

    private final GuestConfig config;
    private final EventLoop loop;
    private final UpstreamLink upstream;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final Set<ClientSession> sessions = new LinkedHashSet<>();
    /** Sessions with queued commands, served round-robin so one busy client cannot starve another. */
    private final ArrayDeque<ClientSession> ring = new ArrayDeque<>();
    private final Map<String, Outgoing> inFlight = new HashMap<>();
    /** The proxy's own commands (start-up queries, cleanup after clients); sent before clients'. */
    private final ArrayDeque<Outgoing> internal = new ArrayDeque<>();
    private final FdsetIds fdsetIds = new FdsetIds();
    private State state = State.CONNECTING;
    private byte[] greetingLine;
    private String negotiationId;
    /** The commands QEMU offers (query-commands at negotiation), to answer as QEMU would. */
    private Set<String> qemuCommands = Set.of();
    private int nextId;
    private boolean fdCommandInFlight;
    private boolean sawShutdown;
    private int connectAttempts;
    private EventLoop.Timer greetingTimer;

    public Guest(GuestConfig config, EventLoop loop) {
        this.config = config;
        this.loop = loop;
        this.upstream = new UpstreamLink(loop, config.qemuSocket(), this);
    }

    public GuestConfig config() {
        return config;
    }

    public FdsetIds fdsetIds() {
        return fdsetIds;
    }

    public EventLoop loop() {
        return loop;
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
            LOG.info(config.name() + ": connected to QEMU monitor " + config.qemuSocket());
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
        LOG.info(config.name() + ": " + session.name() + " connected (" + session.transport().describe() + ")");
        if (state == State.READY) {
            session.greet(greetingLine);
        }
    }

    public void detach(ClientSession session, String reason) {
        sessions.remove(session);
        if (session.isScheduled()) {
            ring.remove(session);
            session.setScheduled(false);
        }
        LOG.info(config.name() + ": " + session.name() + " disconnected (" + reason + "; "
                + session.transport().describe() + ")");
    }

    /** The session queued a command: schedule it. */
    public void submit(ClientSession session) {
        if (!session.isScheduled()) {
            session.setScheduled(true);
            ring.add(session);
        }
        pump();
    }

    /**
     * Sends queued commands while the in-flight bound allows: the proxy's own first, then one per
     * session in turn.
     */
    private void pump() {
        if (state != State.READY && state != State.LEARNING) {
            return;
        }
        while (inFlight.size() < config.maxInFlight() && !fdCommandInFlight) {
            ClientSession from = null;
            Outgoing next;
            if (!internal.isEmpty()) {
                next = internal.peek();
            } else if (state == State.READY && !ring.isEmpty()) {
                from = ring.peek();
                next = from.peekQueued();
            } else {
                return;
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
                if (from.hasQueued()) {
                    ring.add(from);
                } else {
                    from.setScheduled(false);
                }
            }
            send(next, allocateId());
        }
    }

    /** Queues a command of the proxy's own; failures are logged, not reported to anyone. */
    private void internal(String name, ObjectNode arguments, java.util.function.Consumer<JsonMessage> onReturn) {
        internal.add(new Outgoing(name, UpstreamEncoding.prefix(name, arguments), new ReplyHandler() {
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
            internal("closefd", JsonNodeFactory.instance.objectNode().put("fdname", fds.upstreamName(name)), r -> { });
        }
        for (long upstreamId : fds.upstreamFdsets()) {
            internal("remove-fd", JsonNodeFactory.instance.objectNode().put("fdset-id", upstreamId), r -> { });
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

    private void send(Outgoing outgoing, String idJson) {
        inFlight.put(idJson, outgoing);
        if (outgoing.carriesFds()) {
            fdCommandInFlight = true;
        }
        upstream.send(UpstreamEncoding.withId(outgoing.prefix(), idJson), outgoing.fds());
        outgoing.closeFds();
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
        internal("query-commands", null, commands -> {
            qemuCommands = CommandNames.fromQueryCommands(commands);
            internal("query-fdsets", null, fdsets -> {
                CommandNames.fdsetIds(fdsets).forEach(fdsetIds::reserve);
                state = State.READY;
                LOG.info(config.name() + ": QMP negotiated with QEMU (" + qemuCommands.size()
                        + " commands); serving clients");
                for (ClientSession session : List.copyOf(sessions)) {
                    session.greet(greetingLine);
                }
                pump();
            });
        });
    }

    /** Whether QEMU has a command of this name (as of the last negotiation). */
    public boolean qemuHasCommand(String name) {
        return qemuCommands.contains(name);
    }

    private void route(JsonMessage message) {
        if (message.member("event") != null) {
            byte[] line = QmpWire.line(message);
            if (isShutdownEvent(message)) {
                sawShutdown = true;
            }
            for (ClientSession session : List.copyOf(sessions)) {
                session.deliverEvent(line);
            }
            return;
        }
        JsonMessage.Member id = message.member("id");
        if (message.member("return") == null && message.member("error") == null) {
            LOG.warning(config.name() + ": unrecognised message from QEMU dropped: " + text(message));
            return;
        }
        if (id == null) {
            LOG.warning(config.name() + ": reply from QEMU without id dropped: " + text(message));
            return;
        }
        Outgoing outgoing = inFlight.remove(idText(message, id));
        if (outgoing == null) {
            LOG.warning(config.name() + ": reply from QEMU with unknown id dropped: " + text(message));
            return;
        }
        if (outgoing.carriesFds()) {
            fdCommandInFlight = false;
        }
        outgoing.handler().onReply(message, id);
        pump();
    }

    private static boolean isShutdownEvent(JsonMessage message) {
        JsonMessage.Member event = message.member("event");
        return new String(message.valueBytes(event), StandardCharsets.UTF_8).equals("\"SHUTDOWN\"");
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
        List<Outgoing> pending = new ArrayList<>(inFlight.values());
        inFlight.clear();
        fdCommandInFlight = false;
        ring.clear();
        internal.clear();
        for (Outgoing outgoing : pending) {
            outgoing.handler().onAbandoned(abandoned);
        }
        for (ClientSession session : List.copyOf(sessions)) {
            session.setScheduled(false);
            session.upstreamLost(reason);
        }
        greetingLine = null;
        sawShutdown = false;
        if (config.reconnect()) {
            state = State.CONNECTING;
            LOG.info(config.name() + ": --reconnect: waiting for QEMU to come back");
            loop.schedule(100, this::connectUpstream);
        } else {
            state = State.GONE;
            exit.complete(3);
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
