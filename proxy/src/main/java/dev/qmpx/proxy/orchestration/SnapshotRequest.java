package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.whitelist.PathRules;
import dev.qmpx.proxy.filenames.FdsetNames;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A snapshot the proxy orchestrates, from one of three commands:
 * <ul>
 * <li>{@code __dev.qmpx_snapshot}
 * {@code {"targets": [{"node": "disk0", "file": "/img/disk0.s1.qcow2", "overlay-node": "s1"?}], "format": "qcow2"?}};</li>
 * <li>{@code blockdev-snapshot-sync} naming a file (QEMU's own arguments), when QEMU opens no file
 * itself: QEMU would write /dev/fdset/N into the overlay's header (qemu-facts §0.8) and, on a node
 * with no parent, lose the overlay (§0.5);</li>
 * <li>{@code transaction} with such blockdev-snapshot-sync actions; its other actions go into the
 * same transaction unchanged.</li>
 * </ul>
 *
 * @param actions the transaction to commit, in the client's order
 * @param properties the transaction's properties, or null
 */
public record SnapshotRequest(String command, List<Action> actions, JsonNode properties) {
    public static final String SNAPSHOT_COMMAND = "__dev.qmpx_snapshot";
    private static final String SYNC = "blockdev-snapshot-sync";
    private static final Set<String> SYNC_MEMBERS = Set.of("device", "node-name", "snapshot-file", "snapshot-node-name",
            "format", "mode");

    /** One action of the transaction the snapshot commits. */
    public sealed interface Action permits Overlay, PassThrough {
    }

    /** A disk switched to an overlay the proxy prepares. */
    public record Overlay(Target target) implements Action {
    }

    /** Another transaction action, sent as the client wrote it. */
    public record PassThrough(JsonNode action) implements Action {
    }

    /**
     * One disk.
     *
     * @param node the node to put an overlay on, or its device (BlockBackend) name when byDevice
     * @param file the overlay's file
     * @param overlayNode the overlay node's name
     * @param existing the overlay exists already (mode "existing") instead of being created
     */
    public record Target(String node, boolean byDevice, String file, String overlayNode, boolean existing) {
    }

    public List<Target> targets() {
        return actions.stream().filter(a -> a instanceof Overlay).map(a -> ((Overlay) a).target()).toList();
    }

    /** Whether the command is a snapshot the proxy must orchestrate (it names a file to create). */
    public static boolean orchestrated(String command, ObjectNode arguments) {
        return switch (command) {
            case SNAPSHOT_COMMAND -> true;
            case SYNC -> namesFile(arguments);
            case "transaction" -> {
                for (JsonNode action : arguments.path("actions")) {
                    if (SYNC.equals(action.path("type").asText()) && namesFile(action.path("data"))) {
                        yield true;
                    }
                }
                yield false;
            }
            default -> false;
        };
    }

    private static boolean namesFile(JsonNode syncArguments) {
        JsonNode file = syncArguments.path("snapshot-file");
        return file.isTextual() && !file.textValue().startsWith("/dev/fdset/");
    }

    /** Why the arguments are unusable, or null. */
    public static String problem(String command, ObjectNode arguments, boolean brokerConfigured) {
        if (!brokerConfigured) {
            return "qmpx: " + command + " needs the proxy to run with --broker (overlay files are created by the broker)";
        }
        return switch (command) {
            case SNAPSHOT_COMMAND -> snapshotProblem(arguments);
            case SYNC -> syncProblem(arguments);
            default -> transactionProblem(arguments);
        };
    }

    private static String snapshotProblem(ObjectNode arguments) {
        String unexpected = unexpected(arguments, Set.of("targets", "format"));
        if (unexpected != null) {
            return unexpected;
        }
        if (arguments.has("format") && !"qcow2".equals(arguments.get("format").asText())) {
            return "qmpx: overlays are qcow2 ('format' may only be \"qcow2\")";
        }
        JsonNode targets = arguments.get("targets");
        if (targets == null || !targets.isArray() || targets.isEmpty()) {
            return "Parameter 'targets' is missing or empty (a list of {\"node\": ..., \"file\": ...})";
        }
        Set<String> nodes = new HashSet<>();
        Set<String> files = new HashSet<>();
        for (JsonNode target : targets) {
            if (!target.path("node").isTextual() || !target.path("file").isTextual()) {
                return "each target needs a string 'node' and a string 'file'";
            }
            String pathProblem = PathRules.problem(target.get("file").textValue());
            if (pathProblem != null) {
                return "target file: " + pathProblem;
            }
            if (!nodes.add(target.get("node").textValue()) || !files.add(target.get("file").textValue())) {
                return "each node and each file may appear in one target only";
            }
        }
        return null;
    }

    private static String syncProblem(JsonNode arguments) {
        String unexpected = unexpected(arguments, SYNC_MEMBERS);
        if (unexpected != null) {
            return unexpected;
        }
        for (String member : SYNC_MEMBERS) {
            if (arguments.has(member) && !arguments.get(member).isTextual()) {
                return "Invalid parameter type for '" + member + "', expected: string";
            }
        }
        if (!arguments.has("snapshot-file")) {
            return "Parameter 'snapshot-file' is missing";
        }
        if (arguments.has("device") == arguments.has("node-name")) {
            return "qmpx: name the disk with exactly one of 'device' and 'node-name'";
        }
        String format = arguments.path("format").asText("qcow2");
        if (!format.equals("qcow2")) {
            return "qmpx: through the broker, snapshot overlays are made as qcow2 (format '" + format + "' is not supported)";
        }
        String mode = arguments.path("mode").asText("absolute-paths");
        if (!mode.equals("absolute-paths") && !mode.equals("existing")) {
            return "Parameter 'mode' does not accept value '" + mode + "'";
        }
        String pathProblem = PathRules.problem(arguments.get("snapshot-file").textValue());
        return pathProblem == null ? null : "snapshot-file: " + pathProblem;
    }

    private static String transactionProblem(ObjectNode arguments) {
        String unexpected = unexpected(arguments, Set.of("actions", "properties"));
        if (unexpected != null) {
            return unexpected;
        }
        Set<String> files = new HashSet<>();
        for (JsonNode action : arguments.path("actions")) {
            if (!SYNC.equals(action.path("type").asText())) {
                if (FdsetNames.mentionsFdset(action) || action.path("type").asText().equals("drive-backup")) {
                    return "qmpx: a transaction with blockdev-snapshot-sync actions that name files is prepared by the proxy; "
                            + "send its '" + action.path("type").asText() + "' action in a transaction of its own";
                }
                continue;
            }
            if (!namesFile(action.path("data"))) {
                return "qmpx: in one transaction, blockdev-snapshot-sync actions either all name files or all name "
                        + "the client's own /dev/fdset sets";
            }
            String problem = syncProblem(action.path("data"));
            if (problem != null) {
                return problem;
            }
            if (!files.add(action.path("data").path("snapshot-file").textValue())) {
                return "qmpx: two actions name the same snapshot-file";
            }
        }
        return null;
    }

    private static String unexpected(JsonNode arguments, Set<String> known) {
        for (var names = arguments.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                return "Parameter '" + name + "' is unexpected";
            }
        }
        return null;
    }

    /** The request of a command that passed {@link #problem}. */
    public static SnapshotRequest of(String command, ObjectNode arguments) {
        String nonce = Long.toString(System.nanoTime() % 100_000);
        List<Action> actions = new ArrayList<>();
        switch (command) {
            case SNAPSHOT_COMMAND -> {
                for (JsonNode t : arguments.get("targets")) {
                    String node = t.get("node").textValue();
                    actions.add(new Overlay(new Target(node, false, t.get("file").textValue(),
                            t.path("overlay-node").isTextual() ? t.get("overlay-node").textValue() : "qmpx-snap-" + node + "-" + nonce,
                            false)));
                }
                return new SnapshotRequest(command, actions, null);
            }
            case SYNC -> {
                actions.add(new Overlay(syncTarget(arguments, nonce)));
                return new SnapshotRequest(command, actions, null);
            }
            default -> {
                for (JsonNode action : arguments.get("actions")) {
                    actions.add(SYNC.equals(action.path("type").asText())
                            ? new Overlay(syncTarget(action.get("data"), nonce)) : new PassThrough(action));
                }
                return new SnapshotRequest(command, actions, arguments.get("properties"));
            }
        }
    }

    private static Target syncTarget(JsonNode arguments, String nonce) {
        boolean byDevice = arguments.has("device");
        String node = byDevice ? arguments.get("device").textValue() : arguments.get("node-name").textValue();
        String overlay = arguments.has("snapshot-node-name") ? arguments.get("snapshot-node-name").textValue()
                : "qmpx-snap-" + node + "-" + nonce;
        return new Target(node, byDevice, arguments.get("snapshot-file").textValue(), overlay,
                "existing".equals(arguments.path("mode").asText()));
    }
}
