package dev.qmpx.broker.open;

/** An open the broker refuses or cannot do, with the class of the reply it gets. */
public final class OpenFailure extends Exception {
    private final String errorClass;

    public OpenFailure(String errorClass, String desc) {
        super(desc, null, false, false);
        this.errorClass = errorClass;
    }

    public String errorClass() {
        return errorClass;
    }
}
