package dev.qmpx.broker.service;

/** An admin request that cannot be done, with the reply's error class. */
public final class AdminException extends Exception {
    private final String errorClass;

    public AdminException(String errorClass, String desc) {
        super(desc);
        this.errorClass = errorClass;
    }

    public String errorClass() {
        return errorClass;
    }
}
