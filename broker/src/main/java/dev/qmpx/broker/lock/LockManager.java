package dev.qmpx.broker.lock;

/**
 * Leases on guest files, so that two guests cannot write one image (libvirt's lock-manager
 * lesson). A write grant takes an exclusive lease for the guest, a read grant a shared one; a
 * guest's shared lease is upgraded when it asks to write. Thread-safe: the broker calls it from
 * every guest's connection threads.
 */
public interface LockManager extends AutoCloseable {
    /** The SPI version this broker implements; a plug-in built for another one should refuse. */
    int API_VERSION = 1;

    /** Takes (or upgrades to exclusive) the guest's lease on path. */
    void acquire(String guest, String path, boolean exclusive) throws LockConflictException;

    /** Releases the guest's lease on path, if any. */
    void release(String guest, String path);

    @Override
    void close();
}
