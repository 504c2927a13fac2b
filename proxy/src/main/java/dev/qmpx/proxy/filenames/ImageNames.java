package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Set;

/**
 * File names QEMU takes from inside images rather than from the command: a qcow2, qcow or qed
 * header's backing file name, opened when a node is added without an explicit {@code backing}, and
 * made absolute against the image's own name (block.c bdrv_make_absolute_filename, bdrv_dirname):
 * for an image opened as {@code /dev/fdset/5}, the backing name {@code 0} is {@code /dev/fdset/0},
 * another client's set; VMDK descriptors name their extent files the same way. The proxy never sees
 * those names, so a client that is not trusted must not let QEMU take them: every such node names
 * its backing explicitly, VMDK is not opened, images QEMU opens with their header's chain
 * (drive-backup onto an existing target, blockdev-change-medium) are raw, and backing names it
 * writes into headers are absolute.
 */
public final class ImageNames {
    /** Format drivers whose header names a backing file (QEMU 7.2's BlockdevOptionsGenericCOWFormat). */
    private static final Set<String> BACKING_FROM_HEADER = Set.of("qcow2", "qcow", "qed");
    /** Commands whose "backing-file" (or options' "backing-file") QEMU writes into an image header. */
    private static final Set<String> WRITES_BACKING_NAME = Set.of("block-commit", "block-stream", "change-backing-file");

    private ImageNames() {
    }

    /** Why the command would let QEMU open a file named inside an image, for a client that is not trusted; or null. */
    public static String problem(String command, JsonNode arguments) {
        return switch (command) {
            case "blockdev-add" -> node(arguments);
            case "blockdev-create" -> written(arguments.path("options").path("backing-file"));
            case "drive-backup" -> "existing".equals(arguments.path("mode").asText())
                    && !"none".equals(arguments.path("sync").asText()) ? raw(command, arguments) : null;
            case "blockdev-change-medium" -> raw(command, arguments);
            case "transaction" -> {
                for (JsonNode action : arguments.path("actions")) {
                    String problem = problem(action.path("type").asText(), action.path("data"));
                    if (problem != null) {
                        yield problem;
                    }
                }
                yield null;
            }
            default -> WRITES_BACKING_NAME.contains(command) ? written(arguments.path("backing-file")) : null;
        };
    }

    /**
     * An image QEMU opens with the backing chain its header names (drive-backup onto an existing
     * target with any sync but "none", a new medium), the format probed from its content unless given.
     */
    private static String raw(String command, JsonNode arguments) {
        if ("raw".equals(arguments.path("format").asText())) {
            return null;
        }
        return "qmpx: " + command + " would open the image with the backing file named in its header, which the proxy "
                + "cannot check; give \"format\": \"raw\"" + (command.equals("drive-backup") ? " or \"sync\": \"none\"" : "");
    }

    /** A blockdev-add node and its children at any depth. */
    private static String node(JsonNode options) {
        if (!options.isObject()) {
            return null;
        }
        String driver = options.path("driver").asText();
        if (driver.equals("vmdk")) {
            return "qmpx: a vmdk node opens the extent files its descriptor names, which the proxy cannot check; "
                    + "convert the image to qcow2 or raw";
        }
        if (BACKING_FROM_HEADER.contains(driver)) {
            JsonNode backing = options.get("backing");
            boolean explicit = backing != null && (backing.isNull() || backing.isTextual()
                    || backing.path("file").path("filename").isTextual());
            if (!explicit) {
                return "qmpx: a " + driver + " node must name its backing explicitly (\"backing\": null, a node name, "
                        + "or options with \"file\": {\"filename\": ...}): QEMU would otherwise open the file named in "
                        + "the image's header, which the proxy cannot check";
            }
        }
        for (JsonNode child : options) {
            String problem = node(child);
            if (problem != null) {
                return problem;
            }
        }
        return null;
    }

    /**
     * A backing name written into a header: a relative one would later be resolved against the
     * image's own name, /dev/fdset/N for a passed or brokered image (path_has_protocol and
     * path_is_absolute decide what is relative).
     */
    private static String written(JsonNode name) {
        if (!name.isTextual() || name.textValue().isEmpty() || name.textValue().startsWith("/") || hasProtocol(name.textValue())) {
            return null;
        }
        return "qmpx: the backing file name '" + QemuFileName.abbreviate(name.textValue()) + "' is relative; QEMU would "
                + "resolve it against the image's own name (/dev/fdset/N for a passed image): use an absolute path";
    }

    /** QEMU's path_has_protocol: a colon before any slash. */
    private static boolean hasProtocol(String name) {
        int colon = name.indexOf(':');
        int slash = name.indexOf('/');
        return colon >= 0 && (slash < 0 || colon < slash);
    }
}
