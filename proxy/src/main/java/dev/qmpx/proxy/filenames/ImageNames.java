package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;
import java.util.Set;

/**
 * File names QEMU takes from inside images rather than from the command: a qcow2 header's backing
 * file name, opened when a node is added without an explicit {@code backing}, and made absolute
 * against the image's own name (block.c bdrv_make_absolute_filename, bdrv_dirname): for an image
 * opened as {@code /dev/fdset/5}, the backing name {@code 0} is {@code /dev/fdset/0}, another
 * client's set; a VMDK descriptor names its extent files (text an attacker writes), and qcow, qed,
 * vhdx, parallels and others name files too. The proxy never sees those names, so for a client
 * that is not trusted QEMU opens images only through drivers known to name no other file in their
 * content (an allowlist: a future QEMU's driver is refused until it is judged):
 * <ul>
 * <li>every node of a blockdev-add tree, and every node blockdev-create opens from inline options,
 * has an allowed driver, and a qcow2 node names its backing explicitly;</li>
 * <li>a command that opens an existing image by file name gives its format, from the formats safe
 * for the way that command opens it (QEMU would otherwise probe the format from the content);</li>
 * <li>backing names QEMU writes into headers are absolute.</li>
 * </ul>
 * {@code json:} names, which could hide any driver under an allowed format (QEMU merges their
 * options under the explicit one), are refused by {@link QemuFileName} for such clients.
 */
public final class ImageNames {
    /**
     * Drivers whose images name no other file, or whose children are all nodes of the same tree:
     * protocols that open exactly the name given, filters, and formats without file names inside.
     * blkdebug is not here: it reads a config file by a name the proxy does not check.
     */
    private static final Set<String> NODE_DRIVERS = Set.of("raw", "file", "host_device", "host_cdrom", "qcow2", "luks",
            "null-co", "null-aio", "throttle", "copy-on-read", "preallocate", "compress", "blkverify", "quorum", "nbd");
    /** Format drivers whose header names a backing file that the allowlist admits. */
    private static final String BACKING_FROM_HEADER = "qcow2";
    /** Commands whose "backing-file" (or options' "backing-file") QEMU writes into an image header. */
    private static final Set<String> WRITES_BACKING_NAME = Set.of("block-commit", "block-stream", "change-backing-file");
    /**
     * Formats an existing image may have when QEMU opens it with its header's backing chain:
     * drive-backup onto an existing target with any sync but "none", drive-mirror onto one (it opens
     * the target's chain when the job completes), a new medium. Measured on QEMU 7.2: a qcow2 target
     * whose header names a missing backing file fails with "Could not open backing file" there.
     */
    private static final Set<String> WITH_CHAIN = Set.of("raw");
    /**
     * Formats an existing image may have when QEMU opens it without its header's chain
     * (BDRV_O_NO_BACKING, the command's node becomes its backing): a snapshot overlay
     * (external_snapshot_prepare), a drive-backup target with sync "none". Measured on QEMU 7.2: a
     * qcow2 whose header names a missing backing file is opened there without error.
     */
    private static final Set<String> WITHOUT_CHAIN = Set.of("raw", "qcow2");

    private ImageNames() {
    }

    /** Why the command would let QEMU open a file named inside an image, for a client that is not trusted; or null. */
    public static String problem(String command, JsonNode arguments) {
        return switch (command) {
            case "blockdev-add" -> node(arguments);
            case "blockdev-create" -> created(arguments.path("options"));
            case "drive-backup" -> existing(arguments) ? format(command, arguments, null,
                    "none".equals(arguments.path("sync").asText()) ? WITHOUT_CHAIN : WITH_CHAIN) : null;
            case "drive-mirror" -> existing(arguments) ? format(command, arguments, null, WITH_CHAIN) : null;
            // Without a format, QEMU takes qcow2 (measured: a VMDK descriptor is "not in qcow2 format").
            case "blockdev-snapshot-sync" -> existing(arguments) ? format(command, arguments, "qcow2", WITHOUT_CHAIN) : null;
            case "blockdev-change-medium" -> format(command, arguments, null, WITH_CHAIN);
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

    /** Mode "existing": QEMU opens the file as it is instead of formatting it first. */
    private static boolean existing(JsonNode arguments) {
        return "existing".equals(arguments.path("mode").asText());
    }

    /**
     * The format of an existing image a command opens by name: given and allowed.
     *
     * @param implicit the format QEMU uses when none is given, or null when it probes the content
     */
    private static String format(String command, JsonNode arguments, String implicit, Set<String> allowed) {
        JsonNode given = arguments.get("format");
        String format = given == null ? implicit : given.asText();
        if (format == null) {
            return "qmpx: " + command + " would open an existing image whose format QEMU probes from its content, which "
                    + "could name other files the proxy cannot check; give an explicit format: " + String.join(" or ", sorted(allowed));
        }
        if (!allowed.contains(format)) {
            return "qmpx: " + command + " may not open an existing image of format '" + QemuFileName.abbreviate(format)
                    + "': QEMU would open files named inside it (extents, backing files) that the proxy cannot check; "
                    + "allowed: " + String.join(", ", sorted(allowed));
        }
        return null;
    }

    private static List<String> sorted(Set<String> formats) {
        return formats.stream().sorted().toList();
    }

    /** blockdev-create: the created format is the command's choice; nodes it opens from inline options are checked. */
    private static String created(JsonNode options) {
        for (JsonNode child : options) {
            String problem = node(child);
            if (problem != null) {
                return problem;
            }
        }
        return written(options.path("backing-file"));
    }

    /** A blockdev-add node and its children at any depth. */
    private static String node(JsonNode options) {
        if (!options.isObject()) {
            for (JsonNode element : options) {
                String problem = node(element);
                if (problem != null) {
                    return problem;
                }
            }
            return null;
        }
        JsonNode driverNode = options.get("driver");
        if (driverNode != null) {
            String driver = driverNode.asText();
            if (!NODE_DRIVERS.contains(driver)) {
                return "qmpx: the block driver '" + QemuFileName.abbreviate(driver) + "' is not on the allowlist for this "
                        + "role (" + String.join(", ", sorted(NODE_DRIVERS)) + "): its images may name other files "
                        + "(extents, backing files) that the proxy cannot check; convert the image to qcow2 or raw";
            }
            if (driver.equals(BACKING_FROM_HEADER)) {
                JsonNode backing = options.get("backing");
                boolean explicit = backing != null && (backing.isNull() || backing.isTextual()
                        || backing.path("file").path("filename").isTextual());
                if (!explicit) {
                    return "qmpx: a " + driver + " node must name its backing explicitly (\"backing\": null, a node name, "
                            + "or options with \"file\": {\"filename\": ...}): QEMU would otherwise open the file named in "
                            + "the image's header, which the proxy cannot check";
                }
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
