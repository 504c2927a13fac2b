package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the files a command names, for a QEMU that cannot open them itself (QEMU 7.2's schema:
 * every command argument QEMU passes to its block layer's open or create as a host path):
 * <ul>
 * <li>blockdev-add: nodes of the file, host_device and host_cdrom drivers, at any depth (e.g. a
 * qcow2 node's "file" child), with "read-only" inherited from the parent as QEMU does;</li>
 * <li>blockdev-create with the file driver: a new file;</li>
 * <li>drive-mirror, drive-backup (drive-backup also as a transaction action; QEMU 7.2 has no
 * drive-mirror action): the target, a new file, or with mode "existing" an existing one opened
 * read-write.</li>
 * </ul>
 * blockdev-snapshot-sync is orchestrated instead ({@code SnapshotRequest}). Paths that are already
 * /dev/fdset/N are the client's own sets and are left alone.
 */
public final class FileReferences {
    private static final Set<String> FILE_DRIVERS = Set.of("file", "host_device", "host_cdrom");

    private FileReferences() {
    }

    /** The command names a file in a way the proxy cannot hand over safely; the message says why. */
    public static final class Unsupported extends Exception {
        Unsupported(String message) {
            super(message, null, false, false);
        }
    }

    /** @param arguments a copy the caller may rewrite through the returned references */
    public static List<FileReference> find(String command, ObjectNode arguments) throws Unsupported {
        List<FileReference> found = new ArrayList<>();
        switch (command) {
            case "blockdev-add" -> walk(arguments, false, found);
            case "blockdev-create" -> {
                if (arguments.path("options") instanceof ObjectNode options && "file".equals(options.path("driver").asText())) {
                    add(options, "filename", FileReference.Access.CREATE, found);
                }
            }
            case "drive-mirror", "drive-backup" -> target(command, arguments, found);
            case "transaction" -> {
                for (JsonNode action : arguments.path("actions")) {
                    if ("drive-backup".equals(action.path("type").asText()) && action.path("data") instanceof ObjectNode data) {
                        target("drive-backup", data, found);
                    }
                }
            }
            default -> {
            }
        }
        return found;
    }

    /**
     * A mirror or backup target. QEMU creates a target (mode absolute-paths) with the source's file
     * name as its backing file for every sync but "full": that name would be /dev/fdset/N, which no
     * program can open afterwards (qemu-facts §0.8), so only "full" is created here.
     */
    private static void target(String command, ObjectNode arguments, List<FileReference> found) throws Unsupported {
        if (!isHostPath(arguments.path("target"))) {
            return;
        }
        if ("existing".equals(arguments.path("mode").asText())) {
            add(arguments, "target", FileReference.Access.WRITE, found);
        } else if ("full".equals(arguments.path("sync").asText())) {
            add(arguments, "target", FileReference.Access.CREATE, found);
        } else {
            throw new Unsupported("qmpx: a " + command + " target that QEMU creates with sync '" + arguments.path("sync").asText()
                    + "' would record the source's /dev/fdset name as its backing file, which nothing outside this QEMU can "
                    + "open; create the target first (qemu-img create -b <real base path>) and use \"mode\": \"existing\"");
        }
    }

    private static void add(ObjectNode holder, String member, FileReference.Access access, List<FileReference> found) {
        if (isHostPath(holder.path(member))) {
            found.add(new FileReference(holder, member, holder.get(member).textValue(), access));
        }
    }

    private static boolean isHostPath(JsonNode value) {
        return value.isTextual() && value.textValue().startsWith("/") && !value.textValue().startsWith("/dev/fdset/");
    }

    private static void walk(JsonNode node, boolean parentReadOnly, List<FileReference> found) {
        if (!(node instanceof ObjectNode object)) {
            return;
        }
        boolean readOnly = object.has("read-only") ? object.get("read-only").asBoolean(false) : parentReadOnly;
        if (FILE_DRIVERS.contains(object.path("driver").asText())) {
            add(object, "filename", readOnly ? FileReference.Access.READ : FileReference.Access.WRITE, found);
        }
        for (Map.Entry<String, JsonNode> member : object.properties()) {
            walk(member.getValue(), readOnly, found);
        }
    }
}
