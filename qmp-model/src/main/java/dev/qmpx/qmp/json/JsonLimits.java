package dev.qmpx.qmp.json;

/**
 * Bounds on one JSON message read from an untrusted stream.
 *
 * @param maxMessageBytes bytes from a message's first token to its last, whitespace included
 *     (QEMU counts token bytes only, up to 64 MiB; whitespace counts here so that padding cannot
 *     grow the buffer without bound)
 * @param maxNesting open braces plus brackets; QEMU's own limit is 1024, and the same value gives
 *     the same answers as a direct connection
 */
public record JsonLimits(int maxMessageBytes, int maxNesting) {
    /** The most a nesting limit may be: the parser recurses once per level. */
    public static final int NESTING_CEILING = 4096;

    /** QEMU's nesting limit; 1 MiB for a command is far above any real one. */
    public static final JsonLimits CLIENT_DEFAULT = new JsonLimits(1 << 20, 1024);

    /** What QEMU itself may send: its replies are trusted to be well formed, but not small. */
    public static final JsonLimits UPSTREAM = new JsonLimits(64 << 20, 1024);

    public JsonLimits {
        if (maxMessageBytes < 64) {
            throw new IllegalArgumentException("message size limit must be at least 64 bytes, got " + maxMessageBytes);
        }
        if (maxNesting < 1 || maxNesting > NESTING_CEILING) {
            throw new IllegalArgumentException(
                    "nesting limit must be between 1 and " + NESTING_CEILING + ", got " + maxNesting);
        }
    }
}
