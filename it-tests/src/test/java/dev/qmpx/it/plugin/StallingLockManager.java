package dev.qmpx.it.plugin;

import dev.qmpx.broker.lock.LockManager;
import dev.qmpx.broker.lock.LockManagerContext;
import dev.qmpx.broker.lock.LockManagerProvider;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchService;

/**
 * A fault-injection lock manager for tests: while the file {@code LOCKSPACE/stall} exists, acquire
 * writes {@code LOCKSPACE/stalled} and waits (on an inotify watch) for the marker to be deleted, so
 * a broker request hangs in the middle (the test then kills the broker there). Grants everything
 * otherwise.
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
                if (!Files.exists(stall)) {
                    return;
                }
                // The simulated hang: until the test deletes the marker (or kills the broker).
                try (WatchService deletions = context.lockspace().getFileSystem().newWatchService()) {
                    context.lockspace().register(deletions, StandardWatchEventKinds.ENTRY_DELETE);
                    Files.writeString(stalled, path);
                    while (Files.exists(stall)) {
                        deletions.take().reset();
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
