package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.whitelist.PathRules;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The arguments of __dev.qmpx_snapshot:
 * {@code {"targets": [{"node": "disk0", "file": "/img/disk0.s1.qcow2", "overlay-node": "s1"?}], "format": "qcow2"?}}.
 */
public record SnapshotRequest(List<Target> targets) {
    /** One disk: the node to put an overlay on, the overlay's file, and the overlay node's name. */
    public record Target(String node, String file, String overlayNode) {
    }

    /** Why the arguments are unusable, or null. */
    public static String problem(ObjectNode arguments, boolean brokerConfigured) {
        if (!brokerConfigured) {
            return "qmpx: __dev.qmpx_snapshot needs the proxy to run with --broker (overlay files are created by the broker)";
        }
        for (var names = arguments.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("targets") && !name.equals("format")) {
                return "Parameter '" + name + "' is unexpected";
            }
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

    public static SnapshotRequest of(ObjectNode arguments) {
        List<Target> targets = new ArrayList<>();
        String nonce = Long.toString(System.nanoTime() % 100_000);
        for (JsonNode t : arguments.get("targets")) {
            String node = t.get("node").textValue();
            targets.add(new Target(node, t.get("file").textValue(),
                    t.path("overlay-node").isTextual() ? t.get("overlay-node").textValue() : "qmpx-snap-" + node + "-" + nonce));
        }
        return new SnapshotRequest(targets);
    }
}
