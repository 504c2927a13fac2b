package dev.qmpx.proxy.routing;

import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpError;

/** Who waits for the reply to a command sent upstream. Called on the guest's loop thread. */
public interface ReplyHandler {
    /**
     * QEMU answered; {@code proxyId} is the id member the proxy had put in, or null when the command
     * went without one (see {@link #routesWithoutId}).
     */
    void onReply(JsonMessage reply, JsonMessage.Member proxyId);

    /**
     * Whether the command may go to QEMU without an id, its reply then matched by order: true only
     * where the reply is passed on as QEMU sent it (a client command that had no id), so that QEMU
     * reads exactly the bytes it would read from a direct client.
     */
    default boolean routesWithoutId() {
        return false;
    }

    /** No reply will come (QEMU went away, a timeout, or the command was never sent). */
    void onAbandoned(QmpError reason);

    /** No reply will come because the command never left the proxy: QEMU cannot have run it. */
    default void onNotSent(QmpError reason) {
        onAbandoned(reason);
    }

    /** The proxy answered in the command's place (a job request); returnJson is the value of "return". */
    default void onLocalReturn(String returnJson) {
        throw new UnsupportedOperationException("no local answers for this command");
    }
}
