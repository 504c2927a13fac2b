package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.qmpx.proxy.paths.BrokeredFdsets;
import dev.qmpx.proxy.routing.Guest;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Undoes the journaled steps of a snapshot, newest first: nodes it added are deleted, fdsets it
 * made removed, files it created deleted through the broker. Used after a failed step, and on the
 * start of a proxy that was killed during a snapshot ({@link #recover}). Files whose deletion the
 * broker cannot do yet (it is down) are retried in the background; the journal stays until then,
 * and new snapshots of the guest are refused meanwhile.
 */
public final class SnapshotUndo {
    private static final Logger LOG = Logger.getLogger(SnapshotUndo.class.getName());
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final long RETRY_MAX_MILLIS = 30_000;
    /** For fault-injection tests: stop the process after the N-th undo step it has taken (see FaultPoint). */
    private static final FaultPoint AFTER_STEP = new FaultPoint("qmpx.fault.stop-after-undo-steps");

    private SnapshotUndo() {
    }

    /**
     * @param sameQemu the QEMU that took the steps is the one connected now; otherwise only files
     *     are undone (a new QEMU process has none of the nodes and fdsets)
     * @param fdsets query-fdsets of now, to remove only sets that still carry this snapshot's tag;
     *     null when the steps were just taken by this process
     */
    static void undo(List<JsonNode> steps, Guest guest, QmpSteps qmp, boolean sameQemu, JsonNode fdsets) {
        Set<String> deleted = new HashSet<>();
        List<String> files = new ArrayList<>();
        for (JsonNode step : steps.reversed()) {
            if (step.has("node-deleted")) {
                deleted.add(step.get("node-deleted").asText());
            } else if (step.has("node") && sameQemu && !deleted.contains(step.get("node").asText())) {
                qmp.quietly("blockdev-del", NODES.objectNode().put("node-name", step.get("node").asText()));
                AFTER_STEP.pass(step);
            } else if (step.has("job") && sameQemu) {
                dismissJob(step.get("job").asText(), guest, qmp);
                AFTER_STEP.pass(step);
            } else if (step.has("fdset") && sameQemu && ours(step, fdsets)) {
                long id = step.get("fdset").asLong();
                guest.loop().execute(() -> guest.removeBrokeredFdsets(List.of(id)));
                AFTER_STEP.pass(step);
            } else if (step.has("create")) {
                files.add(step.get("create").asText());
            }
        }
        List<String> left = unlink(files, guest);
        AFTER_STEP.pass(files);
        if (left.isEmpty()) {
            guest.snapshotJournal().end();
            return;
        }
        LOG.severe(guest.config().name() + ": the broker could not delete " + left
                + " yet; retrying in the background, new snapshots are refused until it has");
        Thread.ofPlatform().daemon().name("snapshot-undo-" + guest.config().name()).start(() -> retry(left, guest));
    }

    /** The overlay's format job, if it is still there: cancelled when running, then dismissed. */
    private static void dismissJob(String id, Guest guest, QmpSteps qmp) {
        // Registered first: the job may conclude while it is being asked about.
        var concluded = guest.nextEvent(event -> event.path("event").asText().equals("JOB_STATUS_CHANGE")
                && event.path("data").path("id").asText().equals(id)
                && event.path("data").path("status").asText().equals("concluded"));
        try {
            String status = null;
            for (JsonNode job : qmp.call("query-jobs", null)) {
                if (job.path("id").asText().equals(id)) {
                    status = job.path("status").asText();
                }
            }
            if (status == null) {
                return;
            }
            if (!status.equals("concluded")) {
                qmp.call("job-cancel", NODES.objectNode().put("id", id));
                QmpSteps.join(concluded, "wait for " + id + " to conclude");
            }
            qmp.call("job-dismiss", NODES.objectNode().put("id", id));
        } catch (QmpSteps.StepFailed e) {
            LOG.warning(guest.config().name() + ": undo of job " + id + ": " + e.getMessage());
        } finally {
            concluded.cancel(false);
        }
    }

    private static boolean ours(JsonNode step, JsonNode fdsets) {
        return fdsets == null
                || step.path("file").asText().equals(BrokeredFdsets.taggedPath(fdsets, step.get("fdset").asLong()));
    }

    /**
     * Deletes the files through the broker; returns those it could not reach the broker for. A file
     * the broker refuses was not created (the crash came before the broker did it) or is not ours.
     */
    private static List<String> unlink(List<String> files, Guest guest) {
        return guest.brokerCalls().unlinkNow(files, guest.config().name() + ": snapshot undo");
    }

    private static void retry(List<String> files, Guest guest) {
        long delay = 500;
        List<String> left = files;
        while (!left.isEmpty()) {
            try {
                Thread.sleep(delay); // a back-off between attempts, not synchronisation
            } catch (InterruptedException e) {
                return;
            }
            delay = Math.min(delay * 2, RETRY_MAX_MILLIS);
            left = unlink(left, guest);
        }
        LOG.info(guest.config().name() + ": snapshot undo finished");
        guest.snapshotJournal().end();
    }

    /**
     * Runs on a fresh start of the guest's monitor connection, before clients are served: a snapshot
     * an earlier process left unfinished is completed when its transaction had committed, otherwise
     * undone. After a commit the guest writes into the overlays, so they are kept whatever QEMU is
     * there now; a new QEMU has no nodes or fdsets of the snapshot, and attaching its disks to the
     * overlays is management's job. Calls ready when the guest may serve.
     */
    public static void recover(Guest guest, Runnable ready) {
        SnapshotJournal journal = guest.snapshotJournal();
        List<JsonNode> steps;
        try {
            steps = journal.active() ? List.of() : journal.unfinished();
        } catch (IOException e) {
            LOG.severe(guest.config().name() + ": cannot read the snapshot journal " + journal.file() + ": " + e.getMessage());
            steps = List.of();
        }
        if (steps.isEmpty()) {
            ready.run();
            return;
        }
        List<JsonNode> unfinished = steps;
        Thread.ofPlatform().name("snapshot-recovery-" + guest.config().name()).start(() -> {
            try {
                journal.resume();
                QmpSteps qmp = new QmpSteps(guest);
                boolean sameQemu = unfinished.getFirst().path("qemu-pid").asLong() == guest.qemuPid();
                String name = guest.config().name();
                switch (commitState(unfinished, sameQemu, qmp)) {
                    case COMMITTED -> {
                        LOG.warning(name + ": a snapshot interrupted by a crash had committed; completing it" + (sameQemu ? ""
                                : "; QEMU was restarted meanwhile: keeping the overlay files " + targetFiles(unfinished)
                                + " (the guest wrote into them); the new QEMU's block graph is management's to rebuild on them"));
                        journal.end();
                    }
                    case IN_DOUBT -> {
                        LOG.warning(name + ": a snapshot interrupted by a crash may have committed: its transaction was due"
                                + " and QEMU was restarted meanwhile, so nothing shows whether it ran; keeping the overlay files "
                                + targetFiles(unfinished) + " (the guest may have written into them); the new QEMU's block graph"
                                + " is management's to rebuild, on them or on the bases");
                        journal.end();
                    }
                    case NOT_COMMITTED -> {
                        LOG.warning(name + ": undoing a snapshot interrupted by a crash (" + unfinished.size()
                                + " journal records" + (sameQemu ? "" : ", QEMU was restarted meanwhile") + ")");
                        undo(unfinished, guest, qmp, sameQemu, qmp.call("query-fdsets", null));
                    }
                }
            } catch (QmpSteps.StepFailed | IOException e) {
                LOG.severe(guest.config().name() + ": snapshot recovery stopped: " + e.getMessage()
                        + "; it is tried again on the next connection");
            } finally {
                ready.run();
            }
        });
    }

    /** Whether the transaction ran, as far as the journal and (for the same QEMU) the graph tell. */
    private enum CommitState { COMMITTED, IN_DOUBT, NOT_COMMITTED }

    private static CommitState commitState(List<JsonNode> steps, boolean sameQemu, QmpSteps qmp) throws QmpSteps.StepFailed {
        JsonNode commit = null;
        for (JsonNode step : steps) {
            if (step.has("committed")) {
                return CommitState.COMMITTED;
            }
            if (step.has("commit")) {
                commit = step.get("commit");
            }
        }
        if (commit == null) {
            return CommitState.NOT_COMMITTED;
        }
        // Killed between sending the transaction and journaling its success: only the graph of the
        // QEMU that ran it can tell.
        if (!sameQemu) {
            return CommitState.IN_DOUBT;
        }
        return switched(commit, qmp.call("query-named-block-nodes", null)) ? CommitState.COMMITTED : CommitState.NOT_COMMITTED;
    }

    /**
     * Every overlay has its base attached as backing. The orchestration adds overlays with no backing,
     * so only the transaction's blockdev-snapshot attaches one.
     */
    private static boolean switched(JsonNode commit, JsonNode nodes) {
        for (JsonNode pair : commit) {
            String base = imageOf(nodes, pair.path("node").asText()).path("filename").asText(null);
            String backing = imageOf(nodes, pair.path("overlay").asText()).path("backing-image").path("filename").asText(null);
            if (base == null || !base.equals(backing)) {
                return false;
            }
        }
        return true;
    }

    private static JsonNode imageOf(JsonNode nodes, String nodeName) {
        for (JsonNode node : nodes) {
            if (node.path("node-name").asText().equals(nodeName)) {
                return node.path("image");
            }
        }
        return NODES.missingNode();
    }

    private static List<String> targetFiles(List<JsonNode> steps) {
        List<String> files = new ArrayList<>();
        steps.getFirst().path("targets").forEach(target -> files.add(target.path("file").asText()));
        return files;
    }
}
