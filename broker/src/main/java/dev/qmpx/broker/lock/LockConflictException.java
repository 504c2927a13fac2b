package dev.qmpx.broker.lock;

/** Another guest holds a lease that conflicts with the one asked for. */
public final class LockConflictException extends Exception {
    public LockConflictException(String message) {
        super(message);
    }
}
