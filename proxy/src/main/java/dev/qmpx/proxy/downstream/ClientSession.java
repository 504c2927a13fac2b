package dev.qmpx.proxy.downstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.routing.Guest;
import dev.qmpx.proxy.routing.Outgoing;
import dev.qmpx.qmp.json.JsonStreamer;
import dev.qmpx.qmp.message.ClientCommand;
import dev.qmpx.qmp.message.ClientInput;
import dev.qmpx.qmp.message.ErrorClass;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpRequests;
import dev.qmpx.qmp.message.QmpWire;
import dev.qmpx.qmp.message.RejectedInput;
import dev.qmpx.qmp.message.UpstreamEncoding;

import dev.qmpx.proxy.fds.ClientFds;
import dev.qmpx.proxy.fds.FdCommands;
import dev.qmpx.proxy.fds.PendingFds;
import dev.qmpx.proxy.paths.BrokerCalls;
import dev.qmpx.proxy.paths.BrokeredPaths;
import dev.qmpx.proxy.paths.FileReference;
import dev.qmpx.proxy.paths.FileReferences;
import dev.qmpx.proxy.paths.HostPaths;
import dev.qmpx.proxy.paths.TargetFdsets;
import dev.qmpx.proxy.paths.PathPreparation;
import dev.qmpx.proxy.orchestration.SnapshotRequest;

import dev.qmpx.proxy.loop.EventLoop;
import dev.qmpx.proxy.policy.ArgumentRule;
import dev.qmpx.proxy.policy.Role;
import dev.qmpx.qmp.catalogue.CommandCatalogue;
import dev.qmpx.qmp.catalogue.CommandClass;

import java.io.FileDescriptor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client's QMP session: its own capabilities negotiation, its reply order, its queue of commands
 * waiting for the upstream. Confined to the guest's loop thread (THREADS.md).
 */
public final class ClientSession {
    private static final Logger LOG = Logger.getLogger(ClientSession.class.getName());
    private static final AtomicLong SERIALS = new AtomicLong();
    /** Commands that take the fd the client passed; without SCM_RIGHTS they are refused here. */
    private static final Set<String> FD_TAKING = Set.of("getfd", "add-fd");

    private final long serial = SERIALS.incrementAndGet();
    private final Guest guest;
    private final ClientTransport transport;
    private final JsonStreamer streamer;
    private final ClientFds fds;
    private final Role role;
    private final ArrayDeque<ReplySlot> replies = new ArrayDeque<>();
    private final ArrayDeque<Outgoing> queued = new ArrayDeque<>();
    private boolean greeted;
    private boolean negotiated;
    private boolean oobEnabled;
    private boolean closed;
    private boolean readingPaused;
    /**
     * Bytes of the client's input whose answers have not gone out yet: each such command keeps its
     * id and arguments (text and tree) until then, so the answers-outstanding count alone let 64
     * one-MiB commands hold 64 MiB per client. Reading stops past two messages' worth.
     */
    private long heldInputBytes;
    /** While the broker opens a command's files, the client's later input waits here, in order. */
    private boolean preparing;
    private final ArrayDeque<JsonStreamer.Item> held = new ArrayDeque<>();
    /** Frames of the read being fed when it carried fds; null otherwise. */
    private List<JsonStreamer.Item> arrivals;
    /** Whether the session is in the guest's round-robin ring of sessions with queued commands. */
    private boolean scheduled;
    /** Why the job this client took was taken back (idle, --job-max, job-break): its next command is told. */
    private String jobRevoked;
    /**
     * Closes a client that does not negotiate; cancelled once it has, or has gone, so that a closed
     * session (its unfinished input included) is not kept until the bound.
     */
    private EventLoop.Timer negotiationTimer;

    /** A client's session, with the role the policy gives its peer. */
    public ClientSession(Guest guest, ClientTransport transport) {
        this(guest, transport, guest.config().policy().roleFor(guest.config().name(), transport.peer().listener(),
                transport.peer().uid(), transport.peer().gid(), transport.peer().remote()));
    }

    /** A session of the proxy's own with a fixed role, such as the status page's (readonly). */
    public ClientSession(Guest guest, ClientTransport transport, Role role) {
        this.fds = new ClientFds(serial, guest.getfdRecord());
        this.guest = guest;
        this.transport = transport;
        this.streamer = new JsonStreamer(guest.config().clientLimits(), true, this::arrived);
        this.role = role;
    }

    public Role role() {
        return role;
    }

    public int queuedCount() {
        return queued.size();
    }

    public String name() {
        return "client#" + serial;
    }

    public ClientTransport transport() {
        return transport;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Sends QEMU's greeting and starts reading the client's input. A client the policy gives no
     * role gets an error line instead and is disconnected: it could do nothing, so it holds no
     * connection, buffer or fd of the proxy's either.
     */
    public void greet(byte[] greetingLine) {
        if (closed || greeted) {
            return;
        }
        greeted = true;
        if (role == Role.NONE) {
            LOG.warning(guest.config().name() + ": " + name() + " refused: no policy rule gives it a role ("
                    + transport.peer() + ")");
            guest.audit(this, "(connect)", "no-role", System.nanoTime());
            transport.send(QmpWire.errorLine(null, QmpError.generic("qmpx: no role for this client: no policy rule "
                    + "matches it and the policy has no default")));
            transport.close("no role");
            return;
        }
        transport.send(greetingLine);
        transport.setReading(true);
        long bound = guest.config().timeouts().negotiationMillis();
        negotiationTimer = guest.loop().schedule(bound, () -> {
            if (!negotiated && !closed) {
                LOG.info(guest.config().name() + ": " + name() + " disconnected: no qmp_capabilities within "
                        + bound / 1000 + " s (--negotiation-timeout) (" + transport.peer() + ")");
                transport.send(QmpWire.errorLine(null, QmpError.generic("qmpx: no qmp_capabilities within "
                        + bound / 1000 + " s of the greeting (--negotiation-timeout); disconnecting")));
                transport.close("no capabilities negotiation");
            }
        });
    }

    /**
     * One read from the client, in order, with the fds that came with it. The kernel ends a read at
     * the end of the sendmsg that carried fds, but may glue earlier fd-less data in front of it
     * (java-stack-facts §2): so the fds belong to the last frame of the read (or to the frame still
     * incomplete), and frames completed before it see only the fds already waiting, as on QEMU's
     * own monitor, which takes an fd with the first byte of its sendmsg.
     */
    public void feed(byte[] buffer, int offset, int length, FileDescriptor[] received) {
        if (received.length == 0) {
            streamer.feed(buffer, offset, length);
            return;
        }
        arrivals = new ArrayList<>();
        streamer.feed(buffer, offset, length);
        List<JsonStreamer.Item> items = arrivals;
        arrivals = null;
        for (int i = 0; i < items.size() - 1; i++) {
            onItem(items.get(i));
        }
        receiveFds(received);
        if (!items.isEmpty()) {
            onItem(items.get(items.size() - 1));
        }
    }

    private void arrived(JsonStreamer.Item item) {
        if (arrivals != null) {
            arrivals.add(item);
        } else {
            onItem(item);
        }
    }

    /** Descriptors that now wait for the client's next getfd/add-fd (see PendingFds). */
    private void receiveFds(FileDescriptor[] received) {
        if (closed) {
            for (FileDescriptor fd : received) {
                PendingFds.close(fd);
            }
            return;
        }
        guest.metrics().fdsReceived(received.length);
        fds.pending().receive(received);
    }

    /** An event line from QEMU; only negotiated clients receive events, as with QEMU itself. */
    public void deliverEvent(byte[] line) {
        if (negotiated && !closed && role.events()) {
            transport.send(line);
        }
    }

    private void onItem(JsonStreamer.Item item) {
        if (closed) {
            return;
        }
        if (preparing) {
            held.add(item);
            return;
        }
        ClientInput input = QmpRequests.read(item, oobEnabled);
        if (LOG.isLoggable(Level.FINE)) {
            LOG.fine(name() + " -> " + describe(item));
        }
        int answersBefore = replies.size();
        switch (input) {
            case RejectedInput rejected -> {
                if (rejected.error().desc().endsWith("limit exceeded")) {
                    LOG.warning(name() + ": input refused, " + rejected.error().desc() + " (" + transport.peer() + ")");
                }
                answer(QmpWire.errorLine(rejected.rawId(), rejected.error()));
            }
            case ClientCommand command -> handle(command);
        }
        if (replies.size() > answersBefore && item instanceof JsonStreamer.Parsed parsed) {
            // The input's answer still waits: its slot carries the input's weight until it goes out.
            int weight = parsed.message().text().length;
            replies.peekLast().weigh(weight);
            heldInputBytes += weight;
        }
        if (mustPauseReading() && !readingPaused) {
            readingPaused = true;
            transport.setReading(false);
        }
    }

    private void handle(ClientCommand command) {
        handle(command, false);
    }

    /**
     * @param targetChecked the command's target fdsets were found unused (see {@link #checkTargets})
     */
    private void handle(ClientCommand command, boolean targetChecked) {
        if (command.name().equals("qmp_capabilities")) {
            negotiate(command);
            return;
        }
        if (!negotiated) {
            answer(QmpWire.errorLine(command.rawId(), new QmpError(ErrorClass.CommandNotFound,
                    "Expecting capabilities negotiation with 'qmp_capabilities'")));
            return;
        }
        CommandCatalogue catalogue = guest.catalogue();
        if (command.outOfBand() && !catalogue.allowsOob(command.name())) {
            answer(QmpWire.errorLine(command.rawId(), catalogue.exists(command.name())
                    ? QmpError.generic("The command " + command.name() + " does not support OOB")
                    : new QmpError(ErrorClass.CommandNotFound, "The command " + command.name() + " has not been found")));
            return;
        }
        if (jobRevoked != null) {
            guest.audit(this, command.name(), "job-revoked", System.nanoTime());
            answer(QmpWire.errorLine(command.rawId(), QmpError.generic(jobRevoked)));
            jobRevoked = null;
            return;
        }
        CommandClass commandClass = CommandCatalogue.classify(command.name());
        ArgumentRule rule = role.rule(command.name());
        ArgumentRule.Verdict verdict = rule == null ? new ArgumentRule.Refused("") : rule.check(command.arguments());
        switch (verdict) {
            case ArgumentRule.Refused refused -> {
                deny(command, refused.why());
                return;
            }
            case ArgumentRule.Probe probe -> {
                ReplySlot slot = new ReplySlot(this, command.rawId(), null);
                replies.add(slot);
                queued.add(Outgoing.guarded(command.name(), commandClass, UpstreamEncoding.prefix(command.name(),
                        command.arguments()), slot, new Outgoing.Guard(probe.command(), UpstreamEncoding.prefix(
                        probe.command(), probe.arguments()), value -> {
                            String why = probe.refusal().apply(value);
                            return why == null ? null : refusal(command.name(), why);
                        })));
                guest.submit(this);
                return;
            }
            case ArgumentRule.Allowed allowed -> {
            }
        }
        // A command a rule looked at goes as the proxy parsed it, so QEMU reads nothing the rule did not.
        boolean reencoded = rule != ArgumentRule.ANY;
        if (!transport.carriesFds() && FD_TAKING.contains(command.name())) {
            guest.audit(this, command.name(), "refused", System.nanoTime());
            answer(QmpWire.errorLine(command.rawId(), QmpError.generic("qmpx: " + command.name() + " takes a file "
                    + "descriptor passed with SCM_RIGHTS on a unix socket; a network client cannot pass one")));
            return;
        }
        ReplySlot slot;
        switch (command.name()) {
            case ProxyCommands.CLIENTS -> {
                answer(QmpWire.returnLine(command.rawId(), guest.clientsJson()));
                return;
            }
            case ProxyCommands.JOB_BREAK -> {
                QmpError failed = guest.breakJob(this);
                guest.audit(this, command.name(), failed == null ? "return" : "refused", System.nanoTime());
                answer(failed == null ? QmpWire.returnLine(command.rawId(), "{}") : QmpWire.errorLine(command.rawId(), failed));
                return;
            }
            case ProxyCommands.JOB_BEGIN, ProxyCommands.JOB_END -> {
                slot = new ReplySlot(this, command.rawId(), null);
                queued.add(Outgoing.local(command.name(), command.name().equals(ProxyCommands.JOB_BEGIN)
                        ? Outgoing.Kind.JOB_BEGIN : Outgoing.Kind.JOB_END, null, slot));
            }
            case ProxyCommands.SNAPSHOT -> {
                snapshot(command);
                return;
            }
            case "query-commands" -> {
                slot = new ReplySlot(this, command.rawId(), ProxyCommands.WITH_OWN_COMMANDS);
                queued.add(new Outgoing(command.name(), commandClass, UpstreamEncoding.prefix(command), slot));
            }
            default -> {
                if (guest.brokerCalls() != null && SnapshotRequest.orchestrated(command.name(), command.arguments())) {
                    snapshot(command);
                    return;
                }
                if (!targetChecked) {
                    List<Long> targets = TargetFdsets.find(command.name(), command.arguments(), fds);
                    if (!targets.isEmpty()) {
                        checkTargets(command, targets);
                        return;
                    }
                }
                FdCommands.Prepared prepared = FdCommands.prepare(command, fds, guest.fdsetIds(), role.isAdmin());
                switch (prepared) {
                    case FdCommands.Answer answer -> {
                        guest.audit(this, command.name(), "refused", System.nanoTime());
                        answer(QmpWire.errorLine(command.rawId(), answer.error()));
                        return;
                    }
                    case FdCommands.Forward forward -> {
                        slot = new ReplySlot(this, command.rawId(), forward.mapper());
                        queued.add(new Outgoing(command.name(), commandClass, forward.prefix(), forward.fds(), slot));
                    }
                    case null -> {
                        ObjectNode arguments = command.arguments().deepCopy();
                        List<FileReference> files;
                        try {
                            files = guest.brokerCalls() == null ? List.of() : FileReferences.find(command.name(), arguments);
                        } catch (FileReferences.Unsupported e) {
                            guest.audit(this, command.name(), "refused", System.nanoTime());
                            answer(QmpWire.errorLine(command.rawId(), QmpError.generic(e.getMessage())));
                            return;
                        }
                        if (!files.isEmpty()) {
                            prepareFiles(command, commandClass, arguments, files);
                            return;
                        }
                        slot = new ReplySlot(this, command.rawId(),
                                HostPaths.QUERIES.contains(command.name()) ? new HostPaths(guest.brokeredFdsets(), fds) : null);
                        queued.add(new Outgoing(command.name(), commandClass, reencoded ? UpstreamEncoding.prefix(
                                command.name(), command.arguments()) : UpstreamEncoding.prefix(command), slot));
                    }
                }
            }
        }
        replies.add(slot);
        guest.submit(this);
    }

    /** Refused by the role: audited, counted, answered; nothing reaches QEMU. */
    private void deny(ClientCommand command, String why) {
        guest.audit(this, command.name(), "denied", System.nanoTime());
        guest.metrics().ended(guest.commandLabel(command.name()), "denied");
        answer(QmpWire.errorLine(command.rawId(), refusal(command.name(), why)));
    }

    private QmpError refusal(String command, String why) {
        return QmpError.generic("qmpx: the role '" + role.name() + "' does not allow '" + command + "'"
                + (why.isEmpty() ? "" : " " + why));
    }

    /** The guest took back the job this client held (see Guest#revokeHold): its next command is told why. */
    public void jobRevoked(String why) {
        jobRevoked = why;
    }

    /**
     * Has the broker open the files the command names, then queues add-fd for each and the command
     * with /dev/fdset paths. Like QEMU's monitor, which reads nothing more until it has answered, the
     * client's later input waits until then, so its order is kept.
     */
    private void prepareFiles(ClientCommand command, CommandClass commandClass, ObjectNode arguments,
                              List<FileReference> files) {
        BrokeredPaths mapper = new BrokeredPaths(guest.brokeredFdsets(), guest::removeBrokeredFdsets,
                created -> guest.brokerCalls().unlink(created, guest.config().name()));
        ReplySlot slot = new ReplySlot(this, command.rawId(), mapper);
        replies.add(slot);
        preparing = true;
        transport.setReading(false);
        guest.brokerCalls().open(files, opened -> guest.loop().execute(() -> {
            if (closed) {
                PathPreparation.discard(opened, guest.brokerCalls(), guest.config().name());
                return;
            }
            String refused = opened.stream().map(BrokerCalls.Opened::failure).filter(f -> f != null).findFirst().orElse(null);
            if (refused != null) {
                PathPreparation.discard(opened, guest.brokerCalls(), guest.config().name());
                guest.audit(this, command.name(), "refused", System.nanoTime());
                slot.onAbandoned(QmpError.generic(refused));
            } else {
                queued.addAll(PathPreparation.outgoings(command.name(), commandClass, arguments, opened,
                        guest.brokeredFdsets(), guest.fdsetIds(), this, mapper, slot));
                guest.submit(this);
            }
            resume();
        }));
    }

    /**
     * A snapshot the proxy orchestrates (__dev.qmpx_snapshot, or blockdev-snapshot-sync and
     * transaction naming overlay files for a QEMU that opens none itself): it runs in the client's
     * turn, under the job; the client's later input waits until it is done, as after any command.
     */
    private void snapshot(ClientCommand command) {
        String invalid = SnapshotRequest.problem(command.name(), command.arguments(), guest.brokerCalls() != null);
        if (invalid != null) {
            guest.audit(this, command.name(), "refused", System.nanoTime());
            answer(QmpWire.errorLine(command.rawId(), QmpError.generic(invalid)));
            return;
        }
        ReplySlot slot = new ReplySlot(this, command.rawId(), null);
        replies.add(slot);
        queued.add(Outgoing.local(command.name(), Outgoing.Kind.SNAPSHOT, command.arguments(), slot));
        preparing = true;
        transport.setReading(false);
        guest.submit(this);
    }

    /**
     * A snapshot, mirror, backup or create onto one of the client's own fdsets that a block node
     * already uses would reformat an image in use: QEMU's image locking does not see it through a
     * shared fd (qemu-facts §0.6). The graph is asked first; the client's later input waits.
     */
    private void checkTargets(ClientCommand command, List<Long> upstreamTargets) {
        preparing = true;
        transport.setReading(false);
        guest.call("query-named-block-nodes", null, null).whenComplete((reply, failure) -> guest.loop().execute(() -> {
            if (closed) {
                return;
            }
            Long inUse = failure != null ? null : TargetFdsets.firstInUse(upstreamTargets, reply.path("return"));
            if (failure != null) {
                answer(QmpWire.errorLine(command.rawId(), QmpError.generic("qmpx: cannot check the target against the "
                        + "block graph: " + failure.getMessage())));
            } else if (inUse != null) {
                guest.audit(this, command.name(), "refused", System.nanoTime());
                answer(QmpWire.errorLine(command.rawId(), QmpError.generic("qmpx: the target /dev/fdset/"
                        + fds.clientFdset(inUse) + " is an image a block node uses; writing a new image there would destroy it")));
            } else {
                handle(command, true);
            }
            resume();
        }));
    }

    /** A command that held back the client's later input is done: go on with that input. */
    public void resume() {
        preparing = false;
        while (!preparing && !held.isEmpty() && !closed) {
            onItem(held.poll());
        }
        if (!preparing && !closed && !readingPaused) {
            transport.setReading(true);
        }
    }

    public ClientFds fds() {
        return fds;
    }

    /** Answers qmp_capabilities locally with QEMU's checks and texts; QEMU's own was negotiated once. */
    private void negotiate(ClientCommand command) {
        QmpError invalid = checkCapabilitiesArguments(command.arguments());
        if (invalid != null) {
            answer(QmpWire.errorLine(command.rawId(), invalid));
        } else if (negotiated) {
            answer(QmpWire.errorLine(command.rawId(), new QmpError(ErrorClass.CommandNotFound,
                    "Capabilities negotiation is already complete, command ignored")));
        } else {
            negotiated = true;
            stopNegotiationTimer();
            JsonNode enable = command.arguments().get("enable");
            oobEnabled = enable != null && !enable.isEmpty();
            answer(QmpWire.returnLine(command.rawId(), "{}"));
        }
    }

    private void stopNegotiationTimer() {
        if (negotiationTimer != null) {
            negotiationTimer.cancel();
        }
    }

    private static QmpError checkCapabilitiesArguments(ObjectNode arguments) {
        for (Iterator<String> names = arguments.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("enable")) {
                return QmpError.generic("Parameter '" + name + "' is unexpected");
            }
        }
        JsonNode enable = arguments.get("enable");
        if (enable == null) {
            return null;
        }
        if (!enable.isArray()) {
            return QmpError.generic("Invalid parameter type for 'enable', expected: array");
        }
        for (int i = 0; i < enable.size(); i++) {
            JsonNode capability = enable.get(i);
            if (!capability.isTextual()) {
                return QmpError.generic("Invalid parameter type for 'enable[" + i + "]', expected: string");
            }
            if (!capability.textValue().equals("oob")) {
                // QEMU 7.2's wording, parameter name included (qemu-facts §4).
                return QmpError.generic("Parameter 'null' does not accept value '" + capability.textValue() + "'");
            }
        }
        return null;
    }

    private void answer(byte[] line) {
        replies.add(ReplySlot.answered(this, line));
        flushReplies();
    }

    private boolean mustPauseReading() {
        return replies.size() >= guest.config().clientQueueLimit()
                || heldInputBytes > 2L * guest.config().clientLimits().maxMessageBytes();
    }

    /** Sends every answer that is complete and has no unanswered command before it. */
    void flushReplies() {
        if (closed) {
            LOG.info(name() + ": reply for a departed client dropped");
            return;
        }
        while (!replies.isEmpty() && replies.peek().line() != null) {
            ReplySlot slot = replies.poll();
            heldInputBytes -= slot.weight();
            byte[] line = slot.line();
            if (LOG.isLoggable(Level.FINE)) {
                LOG.fine(name() + " <- " + new String(line, StandardCharsets.UTF_8).strip());
            }
            transport.send(line);
            if (closed) {
                return;
            }
        }
        if (readingPaused && !mustPauseReading()) {
            readingPaused = false;
            if (!preparing) {
                transport.setReading(true);
            }
        }
    }

    // --- the guest's round-robin dispatch (loop thread) ---

    public boolean isScheduled() {
        return scheduled;
    }

    public void setScheduled(boolean scheduled) {
        this.scheduled = scheduled;
    }

    public Outgoing peekQueued() {
        return queued.peek();
    }

    public Outgoing pollQueued() {
        return queued.poll();
    }

    public boolean hasQueued() {
        return !queued.isEmpty();
    }

    /** QEMU went away: fail what waits, tell the client with an error line, then close. */
    public void upstreamLost(String reason) {
        QmpError error = QmpError.generic("qmpx: connection to QEMU lost: " + reason);
        Outgoing waiting;
        while ((waiting = queued.poll()) != null) {
            waiting.closeFds();
            waiting.handler().onAbandoned(error);
        }
        if (!closed && greeted) {
            transport.send(QmpWire.errorLine(null, error));
        }
        transport.close("connection to QEMU lost");
    }

    /** The transport closed: drop what the client had queued; late replies are dropped on arrival. */
    public void closed(String reason) {
        if (closed) {
            return;
        }
        closed = true;
        stopNegotiationTimer();
        held.clear();
        queued.forEach(Outgoing::closeFds);
        queued.clear();
        replies.clear();
        heldInputBytes = 0;
        fds.pending().closeAll();
        // Out of the dispatcher's ring and the job queue first: the cleanup below pumps.
        guest.detach(this, streamer.isIdle() ? reason : reason + ", partial command discarded");
        guest.releaseFds(this, fds);
    }

    private static String describe(JsonStreamer.Item item) {
        return switch (item) {
            case JsonStreamer.Parsed p -> new String(p.message().text(), StandardCharsets.UTF_8);
            case JsonStreamer.Failed f -> "(malformed: " + f.desc() + ")";
        };
    }
}
