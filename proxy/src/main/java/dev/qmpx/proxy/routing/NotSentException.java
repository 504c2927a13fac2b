package dev.qmpx.proxy.routing;

import java.io.IOException;

/**
 * The proxy's own command never reached QEMU (no connection when it was its turn): QEMU cannot have
 * run it. Other failures of a sent command leave its outcome unknown.
 */
public final class NotSentException extends IOException {
    public NotSentException(String message) {
        super(message);
    }
}
