package dev.qmpx.it.plugin;

import dev.qmpx.broker.lock.LockManager;
import dev.qmpx.broker.lock.LockManagerContext;
import dev.qmpx.broker.lock.LockManagerProvider;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A fault-injection lock manager for tests: while the file {@code LOCKSPACE/stall} exists, acquire
 * writes {@code LOCKSPACE/stalled} and does not return, so a broker request hangs in the middle
 * (the test then kills the broker there). Grants everything otherwise.
 */
public final class StallingLockManager implements LockManagerProvider {
    @Override
    public String name() {
        return "stalling";
    }

    @Override
    public LockManager create(LockManagerContext context) {
        Path stall = context.lockspace().resolve("stall");
        Path stalled = context.lockspace().resolve("stalled");
        return new LockManager() {
            @Override
            public void acquire(String guest, String path, boolean exclusive) {
                try {
                    Files.createDirectories(context.lockspace());
                    if (Files.exists(stall)) {
                        Files.writeString(stalled, path);
                    }
                    while (Files.exists(stall)) {
                        Thread.sleep(10); // the simulated hang itself, until the test lifts it or kills the broker
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public void release(String guest, String path) {
            }

            @Override
            public void close() {
            }
        };
    }
}
