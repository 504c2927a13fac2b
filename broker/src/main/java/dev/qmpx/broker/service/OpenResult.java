package dev.qmpx.broker.service;

/** The broker's answer to an open request. */
public sealed interface OpenResult {
    /** Granted: the fd to pass, which the caller closes after sending. */
    record Granted(int fd) implements OpenResult {
    }

    /** Denied, with the reply's error class (PermissionDenied, NotFound, LockConflict, InvalidRequest). */
    record Denied(String errorClass, String desc) implements OpenResult {
    }
}
