package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the files a command names, for a QEMU that cannot open them itself: blockdev-add nodes of
 * the file, host_device and host_cdrom drivers (at any depth, e.g. a qcow2 node's "file" child),
 * with "read-only" inherited from the parent as QEMU does. Paths that are already /dev/fdset/N are
 * left alone.
 */
public final class FileReferences {
    private static final Set<String> FILE_DRIVERS = Set.of("file", "host_device", "host_cdrom");

    private FileReferences() {
    }

    /** @param arguments a copy the caller may rewrite through the returned references */
    public static List<FileReference> find(String command, ObjectNode arguments) {
        List<FileReference> found = new ArrayList<>();
        if (command.equals("blockdev-add")) {
            walk(arguments, false, found);
        }
        return found;
    }

    private static void walk(JsonNode node, boolean parentReadOnly, List<FileReference> found) {
        if (!(node instanceof ObjectNode object)) {
            return;
        }
        boolean readOnly = object.has("read-only") ? object.get("read-only").asBoolean(false) : parentReadOnly;
        JsonNode filename = object.get("filename");
        if (FILE_DRIVERS.contains(object.path("driver").asText()) && filename != null && filename.isTextual()
                && filename.textValue().startsWith("/") && !filename.textValue().startsWith("/dev/fdset/")) {
            found.add(new FileReference(object, "filename", filename.textValue(), readOnly));
        }
        for (Map.Entry<String, JsonNode> member : object.properties()) {
            walk(member.getValue(), readOnly, found);
        }
    }
}
