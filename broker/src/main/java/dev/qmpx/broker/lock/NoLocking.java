package dev.qmpx.broker.lock;

/** {@code none}: grants take no leases. */
public final class NoLocking implements LockManagerProvider, LockManager {
    @Override
    public String name() {
        return "none";
    }

    @Override
    public LockManager create(LockManagerContext context) {
        return this;
    }

    @Override
    public void acquire(String guest, String path, boolean exclusive) {
    }

    @Override
    public void release(String guest, String path) {
    }

    @Override
    public void close() {
    }
}
