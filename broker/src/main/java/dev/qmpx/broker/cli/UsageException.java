package dev.qmpx.broker.cli;

/** Bad command-line input: the message says what and how to fix it; exit status 2. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }
}
