package dev.qmpx.broker.lock;

/**
 * A lock-manager plug-in, found with {@link java.util.ServiceLoader} and chosen by name in the
 * broker's configuration. Register an implementation in
 * {@code META-INF/services/dev.qmpx.broker.lock.LockManagerProvider}.
 */
public interface LockManagerProvider {
    String name();

    /** @throws LockManagerRefusal when the plug-in cannot work with this broker */
    LockManager create(LockManagerContext context) throws LockManagerRefusal;
}
