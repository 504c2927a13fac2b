package dev.qmpx.proxy.fds;

/**
 * Upstream fdset ids for one guest. Ids are never reused while the proxy runs: a set removed with
 * remove-fd stays in QEMU while a block node still uses it (qemu-facts §7, §13), and an add-fd
 * into a reused id would join that set. Loop thread only.
 */
public final class FdsetIds {
    private long next;

    /** Makes sure new ids stay above one QEMU already has (sets from -add-fd, an earlier proxy). */
    public void reserve(long existing) {
        next = Math.max(next, existing + 1);
    }

    public long allocate() {
        return next++;
    }
}
