package dev.qmpx.broker.lock;

/** A plug-in that will not run with this broker (wrong API version, missing lockspace, ...). */
public final class LockManagerRefusal extends Exception {
    public LockManagerRefusal(String message) {
        super(message);
    }
}
