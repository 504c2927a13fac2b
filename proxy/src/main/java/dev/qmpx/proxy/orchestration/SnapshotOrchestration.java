package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.fds.PendingFds;
import dev.qmpx.proxy.paths.BrokerCalls;
import dev.qmpx.proxy.paths.BrokeredFdsets;
import dev.qmpx.proxy.paths.FileReference;
import dev.qmpx.proxy.routing.Guest;
import dev.qmpx.qmp.json.QemuJson;

import java.io.FileDescriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * An atomic multi-disk external snapshot for a QEMU that can open no file itself (qemu-facts §14):
 * <ol>
 * <li>prepare, with no guest impact: for each disk the broker creates the overlay file (exclusively);
 * its fd goes to QEMU with add-fd; a temporary file node on it is formatted by a blockdev-create job
 * as qcow2 with the base's size and its real path as backing file (so the image works outside this
 * QEMU, unlike /dev/fdset or json: backing names, §0.8); the overlay node is added with no backing.
 * An overlay that exists already (mode "existing") is opened instead, as it is;</li>
 * <li>commit: one transaction of blockdev-snapshot actions (and the client's other actions).</li>
 * </ol>
 * Every step is written to the guest's {@link SnapshotJournal} before it is taken; any failure
 * undoes the journaled steps in reverse ({@link SnapshotUndo}), and so does the next start of a
 * proxy killed in the middle: overlay and temporary nodes deleted, fdsets removed, the files this
 * operation created deleted through the broker (never a file that existed before). A target that
 * is an image in use is refused (QEMU would reformat it through an fdset, §0.6). Runs on its own
 * platform thread under the client's job; QEMU is reached only through {@link Guest#call}.
 */
public final class SnapshotOrchestration {
    private static final Logger LOG = Logger.getLogger(SnapshotOrchestration.class.getName());
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER = new com.fasterxml.jackson.databind.ObjectMapper();

    /** How it ended: the return value, or the error text. */
    public record Outcome(String returnJson, String error) {
    }

    private final Guest guest;
    private final SnapshotRequest request;
    private final SnapshotJournal journal;
    private final QmpSteps qmp;
    private final List<JsonNode> steps = new ArrayList<>();

    private SnapshotOrchestration(Guest guest, SnapshotRequest request) {
        this.guest = guest;
        this.request = request;
        this.journal = guest.snapshotJournal();
        this.qmp = new QmpSteps(guest);
    }

    /** Starts it on a thread of its own; done is called from that thread. */
    public static void start(Guest guest, String command, ObjectNode arguments, Consumer<Outcome> done) {
        SnapshotOrchestration snapshot = new SnapshotOrchestration(guest, SnapshotRequest.of(command, arguments));
        Thread.ofPlatform().name("snapshot-" + guest.config().name()).start(() -> done.accept(snapshot.run()));
    }

    private Outcome run() {
        try {
            ArrayNode targets = NODES.arrayNode();
            request.targets().forEach(t -> targets.addObject().put("node", t.node()).put("file", t.file()));
            try {
                ObjectNode begin = NODES.objectNode().put("snapshot", request.command()).put("qemu-pid", guest.qemuPid());
                begin.set("targets", targets);
                journal.begin(begin);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                return new Outcome(null, "qmpx: the undo of an interrupted snapshot (" + journal.file()
                        + ") has not finished yet; it is retried until the broker answers");
            } catch (IOException e) {
                return new Outcome(null, "qmpx: cannot write the snapshot journal " + journal.file() + ": " + e.getMessage());
            }
            try {
                Map<String, Base> bases = inspect();
                for (SnapshotRequest.Target target : request.targets()) {
                    prepare(target, bases.get(target.node()));
                }
                commit(bases);
            } catch (QmpSteps.Unanswered e) {
                if (!steps.isEmpty() && steps.getLast().has("commit")) {
                    // The transaction may have run, and the guest may have written into the overlays since:
                    // deleting them could lose data. The next connection's recovery settles it.
                    LOG.warning(guest.config().name() + ": the snapshot's transaction got no answer (" + e.getMessage()
                            + "); nothing is undone; the recovery at the next connection to QEMU settles it from "
                            + journal.file());
                    journal.leave();
                    return new Outcome(null, "qmpx: the snapshot's transaction got no answer (" + e.getMessage()
                            + "): whether it ran is unknown, so nothing was undone; the proxy settles it from "
                            + journal.file() + " when it next connects to QEMU");
                }
                return undone(e);
            } catch (QmpSteps.StepFailed e) {
                return undone(e);
            }
            journal.end();
            LOG.info(guest.config().name() + ": snapshot of " + request.targets().size() + " disk(s) committed");
            if (!request.command().equals(SnapshotRequest.SNAPSHOT_COMMAND)) {
                return new Outcome("{}", null);
            }
            ArrayNode result = NODES.arrayNode();
            for (SnapshotRequest.Target target : request.targets()) {
                result.addObject().put("node", target.node()).put("overlay", target.overlayNode()).put("file", target.file());
            }
            return new Outcome(QemuJson.write(result), null);
        } finally {
            guest.settleFdsets(this);
        }
    }

    private Outcome undone(QmpSteps.StepFailed e) {
        LOG.warning(guest.config().name() + ": snapshot failed, undoing " + steps.size() + " step(s): " + e.getMessage());
        SnapshotUndo.undo(steps, guest, qmp, true, null);
        return new Outcome(null, "qmpx: snapshot failed, nothing changed: " + e.getMessage());
    }

    /** Journals a step, then it may be taken. */
    private void step(ObjectNode record) throws QmpSteps.StepFailed {
        try {
            journal.record(record);
        } catch (IOException e) {
            throw new QmpSteps.StepFailed("cannot write the snapshot journal " + journal.file() + ": " + e.getMessage());
        }
        steps.add(record);
    }

    /** The node to snapshot (resolved from a device name if need be): its format, size and the real path of its image. */
    private record Base(String node, String format, long size, String path) {
    }

    /** Reads the graph: each target's node, its image's real path and size; refuses targets in use. */
    private Map<String, Base> inspect() throws QmpSteps.StepFailed {
        JsonNode nodes = qmp.call("query-named-block-nodes", null);
        JsonNode fdsets = qmp.call("query-fdsets", null);
        JsonNode devices = request.targets().stream().anyMatch(SnapshotRequest.Target::byDevice)
                ? qmp.call("query-block", null) : NODES.arrayNode();
        Map<String, Base> bases = new HashMap<>();
        Map<String, String> inUse = new HashMap<>();
        for (JsonNode node : nodes) {
            String path = realPath(node.path("file").asText(), fdsets);
            if (path != null) {
                inUse.put(path, node.path("node-name").asText());
            }
        }
        for (SnapshotRequest.Target target : request.targets()) {
            String nodeName = target.node();
            if (target.byDevice()) {
                nodeName = null;
                for (JsonNode device : devices) {
                    if (device.path("device").asText().equals(target.node())) {
                        nodeName = device.path("inserted").path("node-name").asText(null);
                    }
                }
                if (nodeName == null) {
                    throw new QmpSteps.StepFailed("Cannot find device='" + target.node() + "' nor node-name=''");
                }
            }
            JsonNode node = null;
            for (JsonNode candidate : nodes) {
                if (candidate.path("node-name").asText().equals(nodeName)) {
                    node = candidate;
                }
            }
            if (node == null) {
                throw new QmpSteps.StepFailed("no block node named '" + nodeName + "'");
            }
            String path = realPath(node.path("file").asText(), fdsets);
            if (path == null) {
                throw new QmpSteps.StepFailed("cannot tell which file backs node '" + nodeName + "' (" + node.path("file").asText() + ")");
            }
            String user = inUse.get(target.file());
            if (user != null) {
                throw new QmpSteps.StepFailed(target.file() + " is in use by node '" + user + "': an overlay there would destroy it");
            }
            bases.put(target.node(), new Base(nodeName, node.path("drv").asText(), node.path("image").path("virtual-size").asLong(), path));
        }
        return bases;
    }

    /**
     * A node's file as a host path: itself, for /dev/fdset/N the path in its broker tag, and for a
     * json: pseudo-filename (an overlay opened without its header's backing) its protocol child's.
     */
    static String realPath(String file, JsonNode fdsets) {
        if (file.startsWith("json:")) {
            try {
                JsonNode child = MAPPER.readTree(file.substring("json:".length())).path("file");
                while (child.path("file").isObject()) {
                    child = child.path("file");
                }
                return child.path("filename").isTextual() ? realPath(child.path("filename").textValue(), fdsets) : null;
            } catch (java.io.IOException e) {
                return null;
            }
        }
        if (!file.startsWith("/dev/fdset/")) {
            return file.startsWith("/") ? file : null;
        }
        try {
            return BrokeredFdsets.taggedPath(fdsets, Long.parseLong(file.substring("/dev/fdset/".length())));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private void prepare(SnapshotRequest.Target target, Base base) throws QmpSteps.StepFailed {
        FileDescriptor fd = target.existing() ? openOverlayFile(target.file()) : createOverlayFile(target.file());
        long fdset;
        try {
            fdset = QmpSteps.join(guest.allocateFdset(target.file(), this), "allocate an fdset");
            step(NODES.objectNode().put("fdset", fdset).put("file", target.file()));
        } catch (QmpSteps.StepFailed e) {
            PendingFds.close(fd);
            throw e;
        }
        qmp.call("add-fd", NODES.objectNode().put("fdset-id", fdset).put("opaque", BrokeredFdsets.tag(target.file())), fd);
        if (!target.existing()) {
            String temporary = "qmpx-tmp-" + target.overlayNode();
            step(NODES.objectNode().put("node", temporary));
            // QEMU aborts listing nodes while the job opens the new qcow2 (see NodeListingHold);
            // clients do not see the temporary node either.
            guest.holdNodeListings();
            try {
                qmp.call("blockdev-add", NODES.objectNode().put("driver", "file").put("node-name", temporary)
                        .put("filename", "/dev/fdset/" + fdset));
                format(temporary, base, "qmpx-create-" + target.overlayNode());
                qmp.call("blockdev-del", NODES.objectNode().put("node-name", temporary));
            } finally {
                guest.releaseNodeListings();
            }
            step(NODES.objectNode().put("node-deleted", temporary));
        }
        step(NODES.objectNode().put("node", target.overlayNode()));
        ObjectNode overlay = NODES.objectNode().put("driver", "qcow2").put("node-name", target.overlayNode()).putNull("backing");
        overlay.putObject("file").put("driver", "file").put("filename", "/dev/fdset/" + fdset);
        qmp.call("blockdev-add", overlay);
    }

    private void commit(Map<String, Base> bases) throws QmpSteps.StepFailed {
        ArrayNode actions = NODES.arrayNode();
        ArrayNode pairs = NODES.arrayNode();
        for (SnapshotRequest.Action action : request.actions()) {
            switch (action) {
                case SnapshotRequest.Overlay overlay -> {
                    String node = bases.get(overlay.target().node()).node();
                    actions.addObject().put("type", "blockdev-snapshot").putObject("data")
                            .put("node", node).put("overlay", overlay.target().overlayNode());
                    pairs.addObject().put("node", node).put("overlay", overlay.target().overlayNode());
                }
                case SnapshotRequest.PassThrough passThrough -> actions.add(passThrough.action());
            }
        }
        ObjectNode arguments = NODES.objectNode().set("actions", actions);
        if (request.properties() != null) {
            arguments.set("properties", request.properties());
        }
        step(NODES.objectNode().set("commit", pairs));
        qmp.call("transaction", arguments);
        try {
            journal.record(NODES.objectNode().put("committed", true));
        } catch (IOException e) {
            // Committed all the same; a recovery would find the overlays in place and keep them.
            LOG.warning(guest.config().name() + ": cannot journal the commit: " + e.getMessage());
        }
    }

    /** Has the broker create the overlay file, exclusively; journaled first, so its deletion is undo. */
    private FileDescriptor createOverlayFile(String file) throws QmpSteps.StepFailed {
        step(NODES.objectNode().put("create", file));
        return brokerOpen(file, FileReference.Access.CREATE);
    }

    private FileDescriptor openOverlayFile(String file) throws QmpSteps.StepFailed {
        return brokerOpen(file, FileReference.Access.WRITE);
    }

    /**
     * Through {@link BrokerCalls}, with its retry of opens the broker lost by restarting. A refused
     * create leaves the journal's create record out of the undo: nothing was created, and a file
     * already there is not ours to delete.
     */
    private FileDescriptor brokerOpen(String file, FileReference.Access access) throws QmpSteps.StepFailed {
        CompletableFuture<BrokerCalls.Opened> outcome = new CompletableFuture<>();
        guest.brokerCalls().open(List.of(new FileReference(NODES.objectNode(), "filename", file, access)),
                opened -> outcome.complete(opened.getFirst()));
        BrokerCalls.Opened opened = QmpSteps.join(outcome, "the broker's answer for " + file);
        if (opened.fd() != null) {
            return opened.fd();
        }
        if (access == FileReference.Access.CREATE && opened.failure().startsWith("qmpx broker refused")) {
            steps.removeLast();
        }
        throw new QmpSteps.StepFailed(opened.failure());
    }

    /** blockdev-create of a qcow2 on the temporary node, backed by the base's real path; waits for the job. */
    private void format(String temporary, Base base, String jobId) throws QmpSteps.StepFailed {
        var concluded = guest.nextEvent(event -> event.path("event").asText().equals("JOB_STATUS_CHANGE")
                && event.path("data").path("id").asText().equals(jobId) && event.path("data").path("status").asText().equals("concluded"));
        ObjectNode options = NODES.objectNode().put("driver", "qcow2").put("file", temporary).put("size", base.size())
                .put("backing-file", base.path()).put("backing-fmt", base.format());
        step(NODES.objectNode().put("job", jobId));
        qmp.call("blockdev-create", NODES.objectNode().put("job-id", jobId).set("options", options));
        QmpSteps.join(concluded, "wait for " + jobId);
        String error = null;
        for (JsonNode job : qmp.call("query-jobs", null)) {
            if (job.path("id").asText().equals(jobId) && job.has("error")) {
                error = job.path("error").asText();
            }
        }
        qmp.call("job-dismiss", NODES.objectNode().put("id", jobId));
        if (error != null) {
            throw new QmpSteps.StepFailed("formatting the overlay failed: " + error);
        }
    }
}
