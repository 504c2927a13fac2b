package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.client.OpenHookClient;
import dev.qmpx.proxy.fds.ClientFds;
import dev.qmpx.proxy.fds.OpaqueTag;
import dev.qmpx.proxy.fds.PendingFds;
import dev.qmpx.proxy.routing.Guest;
import dev.qmpx.qmp.json.QemuJson;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * An atomic multi-disk external snapshot for a QEMU that can open no file itself (qemu-facts §14):
 * <ol>
 * <li>prepare, with no guest impact: for each disk the broker creates the overlay file (exclusively);
 * its fd goes to QEMU with add-fd; a temporary file node on it is formatted by a blockdev-create job
 * as qcow2 with the base's size and its real path as backing file (so the image works outside this
 * QEMU, unlike /dev/fdset or json: backing names, §0.8); the overlay node is added with no backing;</li>
 * <li>commit: one transaction of blockdev-snapshot actions.</li>
 * </ol>
 * Before each step its undo is recorded; any failure undoes everything in reverse: overlay and
 * temporary nodes deleted, fdsets removed, the files this operation created deleted through the
 * broker (never a file that existed before). A target that is an image in use is refused (QEMU
 * would reformat it through an fdset, §0.6). Runs on its own platform thread under the client's job;
 * QEMU is reached only through {@link Guest#call}.
 */
public final class SnapshotOrchestration {
    private static final Logger LOG = Logger.getLogger(SnapshotOrchestration.class.getName());
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final long STEP_SECONDS = 120;

    /** How it ended: the return value, or the error text. */
    public record Outcome(String returnJson, String error) {
    }

    private final Guest guest;
    private final ClientFds fds;
    private final SnapshotRequest request;
    private final Path brokerSocket;
    private final java.time.Duration brokerTimeout;
    private final Deque<Runnable> undo = new ArrayDeque<>();

    private SnapshotOrchestration(Guest guest, ClientFds fds, SnapshotRequest request) {
        this.guest = guest;
        this.fds = fds;
        this.request = request;
        this.brokerSocket = guest.brokerCalls().hookSocket();
        this.brokerTimeout = guest.brokerCalls().timeout();
    }

    /** Starts it on a thread of its own; done is called from that thread. */
    public static void start(Guest guest, ClientFds fds, ObjectNode arguments, Consumer<Outcome> done) {
        SnapshotOrchestration snapshot = new SnapshotOrchestration(guest, fds, SnapshotRequest.of(arguments));
        Thread.ofPlatform().name("snapshot-" + guest.config().name()).start(() -> done.accept(snapshot.run()));
    }

    private Outcome run() {
        try {
            Map<String, Base> bases = inspect();
            for (SnapshotRequest.Target target : request.targets()) {
                prepare(target, bases.get(target.node()));
            }
            ArrayNode actions = NODES.arrayNode();
            for (SnapshotRequest.Target target : request.targets()) {
                actions.addObject().put("type", "blockdev-snapshot").putObject("data")
                        .put("node", target.node()).put("overlay", target.overlayNode());
            }
            call("transaction", NODES.objectNode().set("actions", actions));
            ArrayNode result = NODES.arrayNode();
            for (SnapshotRequest.Target target : request.targets()) {
                result.addObject().put("node", target.node()).put("overlay", target.overlayNode()).put("file", target.file());
            }
            LOG.info(guest.config().name() + ": snapshot of " + request.targets().size() + " disk(s) committed");
            return new Outcome(QemuJson.write(result), null);
        } catch (StepFailed e) {
            LOG.warning(guest.config().name() + ": snapshot failed, undoing " + undo.size() + " step(s): " + e.getMessage());
            while (!undo.isEmpty()) {
                try {
                    undo.pop().run();
                } catch (RuntimeException undoFailure) {
                    LOG.severe(guest.config().name() + ": snapshot undo step failed: " + undoFailure.getMessage());
                }
            }
            return new Outcome(null, "qmpx: snapshot failed, nothing changed: " + e.getMessage());
        }
    }

    /** A step failed; its message says which and why. */
    private static final class StepFailed extends Exception {
        StepFailed(String message) {
            super(message, null, false, false);
        }
    }

    /** The node to snapshot: its format, size and the real path of its image. */
    private record Base(String format, long size, String path) {
    }

    /** Reads the graph: each target's node, its image's real path and size; refuses targets in use. */
    private Map<String, Base> inspect() throws StepFailed {
        JsonNode nodes = call("query-named-block-nodes", null);
        JsonNode fdsets = call("query-fdsets", null);
        Map<String, Base> bases = new HashMap<>();
        Map<String, String> inUse = new HashMap<>();
        for (JsonNode node : nodes) {
            String path = realPath(node.path("file").asText(), fdsets);
            if (path != null) {
                inUse.put(path, node.path("node-name").asText());
            }
        }
        for (SnapshotRequest.Target target : request.targets()) {
            JsonNode node = null;
            for (JsonNode candidate : nodes) {
                if (candidate.path("node-name").asText().equals(target.node())) {
                    node = candidate;
                }
            }
            if (node == null) {
                throw new StepFailed("no block node named '" + target.node() + "'");
            }
            String path = realPath(node.path("file").asText(), fdsets);
            if (path == null) {
                throw new StepFailed("cannot tell which file backs node '" + target.node() + "' (" + node.path("file").asText() + ")");
            }
            String user = inUse.get(target.file());
            if (user != null) {
                throw new StepFailed(target.file() + " is in use by node '" + user + "': an overlay there would destroy it");
            }
            bases.put(target.node(), new Base(node.path("drv").asText(), node.path("image").path("virtual-size").asLong(), path));
        }
        return bases;
    }

    /** A node's file as a host path: itself, or for /dev/fdset/N the path in its broker tag. */
    private static String realPath(String file, JsonNode fdsets) {
        if (!file.startsWith("/dev/fdset/")) {
            return file.startsWith("/") ? file : null;
        }
        long id;
        try {
            id = Long.parseLong(file.substring("/dev/fdset/".length()));
        } catch (NumberFormatException e) {
            return null;
        }
        for (JsonNode set : fdsets) {
            if (set.path("fdset-id").asLong() == id) {
                for (JsonNode fd : set.path("fds")) {
                    OpaqueTag tag = OpaqueTag.parse(fd.path("opaque").textValue());
                    if (tag != null && tag.clientFdset() == -1) {
                        return tag.clientOpaque();
                    }
                }
            }
        }
        return null;
    }

    private void prepare(SnapshotRequest.Target target, Base base) throws StepFailed {
        FileDescriptor fd = createOverlayFile(target.file());
        long fdset;
        try {
            fdset = join(guest.allocateFdset(fds), "allocate an fdset");
        } catch (StepFailed e) {
            PendingFds.close(fd);
            throw e;
        }
        ObjectNode addFd = NODES.objectNode().put("fdset-id", fdset).put("opaque", fds.brokeredTag(target.file()));
        undo.push(() -> quietly("remove-fd", NODES.objectNode().put("fdset-id", fdset)));
        call("add-fd", addFd, fd);
        String temporary = "qmpx-tmp-" + target.overlayNode();
        call("blockdev-add", NODES.objectNode().put("driver", "file").put("node-name", temporary)
                .put("filename", "/dev/fdset/" + fdset));
        undo.push(() -> quietly("blockdev-del", NODES.objectNode().put("node-name", temporary)));
        format(temporary, base, "qmpx-create-" + target.overlayNode());
        call("blockdev-del", NODES.objectNode().put("node-name", temporary));
        undo.pop();
        ObjectNode overlay = NODES.objectNode().put("driver", "qcow2").put("node-name", target.overlayNode()).putNull("backing");
        overlay.putObject("file").put("driver", "file").put("filename", "/dev/fdset/" + fdset);
        call("blockdev-add", overlay);
        undo.push(() -> quietly("blockdev-del", NODES.objectNode().put("node-name", target.overlayNode())));
    }

    /** Has the broker create the overlay file, exclusively, and records its deletion as undo. */
    private FileDescriptor createOverlayFile(String file) throws StepFailed {
        try (OpenHookClient broker = OpenHookClient.connect(brokerSocket, brokerTimeout)) {
            FileDescriptor fd = broker.open(file, true, true);
            undo.push(() -> {
                try (OpenHookClient again = OpenHookClient.connect(brokerSocket, brokerTimeout)) {
                    again.unlink(file);
                } catch (IOException e) {
                    throw new IllegalStateException("could not delete " + file + " through the broker: " + e.getMessage(), e);
                }
            });
            return fd;
        } catch (OpenHookClient.Denied denied) {
            throw new StepFailed("the broker refused to create " + file + ": " + denied.getMessage());
        } catch (IOException e) {
            throw new StepFailed("the broker is not reachable at " + brokerSocket + ": " + e.getMessage());
        }
    }

    /** blockdev-create of a qcow2 on the temporary node, backed by the base's real path; waits for the job. */
    private void format(String temporary, Base base, String jobId) throws StepFailed {
        CompletableFuture<JsonNode> concluded = guest.nextEvent(event -> event.path("event").asText().equals("JOB_STATUS_CHANGE")
                && event.path("data").path("id").asText().equals(jobId) && event.path("data").path("status").asText().equals("concluded"));
        ObjectNode options = NODES.objectNode().put("driver", "qcow2").put("file", temporary).put("size", base.size())
                .put("backing-file", base.path()).put("backing-fmt", base.format());
        call("blockdev-create", NODES.objectNode().put("job-id", jobId).set("options", options));
        join(concluded, "wait for " + jobId);
        String error = null;
        for (JsonNode job : call("query-jobs", null)) {
            if (job.path("id").asText().equals(jobId) && job.has("error")) {
                error = job.path("error").asText();
            }
        }
        call("job-dismiss", NODES.objectNode().put("id", jobId));
        if (error != null) {
            throw new StepFailed("formatting the overlay failed: " + error);
        }
    }

    private JsonNode call(String name, ObjectNode arguments) throws StepFailed {
        return call(name, arguments, null);
    }

    /** Sends a command (with an fd if not null) and returns its "return" value, or fails the step. */
    private JsonNode call(String name, ObjectNode arguments, FileDescriptor fd) throws StepFailed {
        JsonNode reply = join(guest.call(name, arguments, fd), name);
        if (reply.has("error")) {
            throw new StepFailed(name + ": " + reply.path("error").path("desc").asText());
        }
        return reply.path("return");
    }

    private void quietly(String name, ObjectNode arguments) {
        try {
            JsonNode reply = guest.call(name, arguments, null).get(STEP_SECONDS, TimeUnit.SECONDS);
            if (reply.has("error")) {
                LOG.warning(guest.config().name() + ": undo " + name + " " + arguments + ": " + reply.path("error").path("desc").asText());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warning(guest.config().name() + ": undo " + name + " " + arguments + " not answered: " + e.getMessage());
        }
    }

    private static <T> T join(CompletableFuture<T> future, String what) throws StepFailed {
        try {
            return future.get(STEP_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StepFailed(what + ": interrupted");
        } catch (ExecutionException e) {
            throw new StepFailed(what + ": " + e.getCause().getMessage());
        } catch (TimeoutException e) {
            throw new StepFailed(what + ": no answer within " + STEP_SECONDS + " s");
        }
    }
}
