package dev.qmpx.broker.whitelist;

/**
 * What a path must look like before the broker even looks it up: absolute, canonical (no empty,
 * "." or ".." components, no trailing slash), no NUL, at most PATH_MAX bytes. Symlinks are refused
 * by the open itself (openat2 with RESOLVE_NO_SYMLINKS), not here, so no check can race the open.
 */
public final class PathRules {
    private static final int PATH_MAX = 4096;

    private PathRules() {
    }

    /** Why the path is not acceptable, or null. */
    public static String problem(String path) {
        if (path == null || path.isEmpty()) {
            return "empty path";
        }
        if (path.charAt(0) != '/') {
            return "not an absolute path: " + path;
        }
        if (path.indexOf('\0') >= 0) {
            return "path contains a NUL byte";
        }
        if (path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= PATH_MAX) {
            return "path longer than " + (PATH_MAX - 1) + " bytes";
        }
        if (path.equals("/")) {
            return "the root directory is not a file";
        }
        for (String component : path.substring(1).split("/", -1)) {
            if (component.isEmpty()) {
                return "not canonical (empty component or trailing slash): " + path;
            }
            if (component.equals(".") || component.equals("..")) {
                return "not canonical ('" + component + "' component): " + path;
            }
        }
        return null;
    }

    /** The directory containing path, or null for a top-level name. */
    static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? null : path.substring(0, slash);
    }
}
