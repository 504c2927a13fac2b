package dev.qmpx.proxy.fds;

/**
 * The opaque string the proxy gives each fd it adds upstream:
 * {@code qmpx1:<owner>:<client fdset id>[:<client opaque>]}. The owner names the client session
 * ({@code s<serial>@<proxy pid>}), or is {@value #GUEST} for a set the proxy made from a broker fd
 * for a block node: such a set belongs to the guest, outlives the client and the proxy, and its
 * opaque part is the file's real path.
 */
public record OpaqueTag(String owner, long clientFdset, String clientOpaque) {
    private static final String PREFIX = "qmpx1:";
    public static final String GUEST = "guest";

    public static String format(String owner, long clientFdset, String clientOpaque) {
        return PREFIX + owner + ":" + clientFdset + (clientOpaque == null ? "" : ":" + clientOpaque);
    }

    /** The tag's parts, or null when the string is not a tag of ours. */
    public static OpaqueTag parse(String opaque) {
        if (opaque == null || !opaque.startsWith(PREFIX)) {
            return null;
        }
        String[] parts = opaque.substring(PREFIX.length()).split(":", 3);
        if (parts.length < 2 || !(parts[0].matches("s\\d+@\\d+") || parts[0].equals(GUEST))) {
            return null;
        }
        try {
            return new OpaqueTag(parts[0], Long.parseLong(parts[1]), parts.length == 3 ? parts[2] : null);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** A set made from a broker fd for a block node. */
    public boolean guestOwned() {
        return owner.equals(GUEST);
    }

    /** The pid of the proxy whose client session owns the set; -1 for a guest-owned set. */
    public long proxyPid() {
        return guestOwned() ? -1 : Long.parseLong(owner.substring(owner.indexOf('@') + 1));
    }
}
