package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A file a command asks QEMU to open: the object holding it, the member naming it, and how QEMU
 * will open it.
 */
public record FileReference(ObjectNode holder, String member, String path, Access access) {
    /** What the broker is asked for: an existing file read-only or read-write, or a new file. */
    public enum Access { READ, WRITE, CREATE }
}
