package dev.qmpx.shell;

/** A line the shell cannot turn into a QMP command; the message says what is wrong with it. */
final class ShellSyntaxException extends Exception {
    ShellSyntaxException(String message) {
        super(message);
    }
}
