package dev.qmpx.it.plugin;

import dev.qmpx.broker.lock.LockManager;
import dev.qmpx.broker.lock.LockManagerContext;
import dev.qmpx.broker.lock.LockManagerProvider;
import dev.qmpx.broker.lock.LockManagerRefusal;

/** A third-party lock-manager plug-in built for another broker API: it refuses to load. */
public final class RefusingLockManager implements LockManagerProvider {
    @Override
    public String name() {
        return "refusing";
    }

    @Override
    public LockManager create(LockManagerContext context) throws LockManagerRefusal {
        throw new LockManagerRefusal("built for lock-manager API 99, this broker has " + context.apiVersion());
    }
}
