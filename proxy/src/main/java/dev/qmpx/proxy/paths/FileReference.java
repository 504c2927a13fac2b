package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A file a command asks QEMU to open: the object holding it, the member naming it, and whether
 * QEMU will open it read-only.
 */
public record FileReference(ObjectNode holder, String member, String path, boolean readOnly) {
}
