package dev.qmpx.qmp.message;

/** An error as QMP reports it: {@code {"class": ..., "desc": ...}}. */
public record QmpError(ErrorClass errorClass, String desc) {
    public static QmpError generic(String desc) {
        return new QmpError(ErrorClass.GenericError, desc);
    }
}
