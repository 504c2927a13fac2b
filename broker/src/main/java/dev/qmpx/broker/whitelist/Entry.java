package dev.qmpx.broker.whitelist;

import java.util.Set;

/**
 * One whitelist entry.
 *
 * @param path a canonical absolute path: the file itself, or for a prefix entry the directory
 *     below which any file is covered (overlays created at run time)
 * @param prefix whether the entry covers everything below {@code path}
 * @param rights what the guest may do
 * @param specialFiles whether device nodes and FIFOs may be opened (regular files only otherwise)
 */
public record Entry(String path, boolean prefix, Set<Right> rights, boolean specialFiles) {
    public Entry {
        rights = Set.copyOf(rights);
        String problem = PathRules.problem(path);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (rights.isEmpty()) {
            throw new IllegalArgumentException("an entry needs at least one right");
        }
    }

    /** "r", "rw", with "+create" when it may create. */
    public String describeRights() {
        return (rights.contains(Right.WRITE) ? "rw" : "r") + (rights.contains(Right.CREATE) ? "+create" : "");
    }
}
