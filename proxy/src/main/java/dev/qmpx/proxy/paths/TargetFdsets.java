package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qmpx.proxy.fds.ClientFds;
import dev.qmpx.proxy.filenames.FdsetNames;

import java.util.ArrayList;
import java.util.List;

/**
 * The client's own fdsets a command would write a new image into: the snapshot-file of
 * blockdev-snapshot-sync, the target of drive-mirror and drive-backup (unless mode "existing"),
 * the filename of blockdev-create with the file driver, and those actions inside a transaction;
 * however QEMU reads the name (a json: target names its sets too).
 */
public final class TargetFdsets {
    private TargetFdsets() {
    }

    /** The upstream ids of the client's sets the command targets. */
    public static List<Long> find(String command, JsonNode arguments, ClientFds fds) {
        List<Long> found = new ArrayList<>();
        switch (command) {
            case "blockdev-snapshot-sync" -> add(arguments.path("snapshot-file"), fds, found);
            case "drive-mirror", "drive-backup" -> {
                if (!"existing".equals(arguments.path("mode").asText())) {
                    add(arguments.path("target"), fds, found);
                }
            }
            case "blockdev-create" -> {
                if ("file".equals(arguments.path("options").path("driver").asText())) {
                    add(arguments.path("options").path("filename"), fds, found);
                }
            }
            case "transaction" -> {
                for (JsonNode action : arguments.path("actions")) {
                    String type = action.path("type").asText();
                    if (type.equals("blockdev-snapshot-sync") || type.equals("drive-backup")) {
                        found.addAll(find(type, action.path("data"), fds));
                    }
                }
            }
            default -> {
            }
        }
        return found;
    }

    private static void add(JsonNode path, ClientFds fds, List<Long> found) {
        if (!path.isTextual()) {
            return;
        }
        for (long clientId : FdsetNames.clientSets(path.textValue())) {
            Long upstream = fds.upstreamFdset(clientId);
            if (upstream != null) {
                found.add(upstream);
            }
        }
    }

    /** The first of the sets that a node of query-named-block-nodes names, or null. */
    public static Long firstInUse(List<Long> upstreamTargets, JsonNode namedNodes) {
        java.util.Set<Long> named = BrokeredFdsets.named(namedNodes);
        return upstreamTargets.stream().filter(named::contains).findFirst().orElse(null);
    }
}
