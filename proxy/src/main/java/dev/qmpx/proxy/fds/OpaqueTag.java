package dev.qmpx.proxy.fds;

/**
 * The opaque string the proxy gives each fd it adds upstream:
 * {@code qmpx1:<owner>:<client fdset id>[:<client opaque>]}. The owner names the client session
 * ({@code s<serial>@<proxy pid>}).
 */
public record OpaqueTag(String owner, long clientFdset, String clientOpaque) {
    private static final String PREFIX = "qmpx1:";

    static String format(String owner, long clientFdset, String clientOpaque) {
        return PREFIX + owner + ":" + clientFdset + (clientOpaque == null ? "" : ":" + clientOpaque);
    }

    /** The tag's parts, or null when the string is not a tag of ours. */
    public static OpaqueTag parse(String opaque) {
        if (opaque == null || !opaque.startsWith(PREFIX)) {
            return null;
        }
        String[] parts = opaque.substring(PREFIX.length()).split(":", 3);
        if (parts.length < 2 || !parts[0].matches("s\\d+@\\d+")) {
            return null;
        }
        try {
            return new OpaqueTag(parts[0], Long.parseLong(parts[1]), parts.length == 3 ? parts[2] : null);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
