package dev.qmpx.proxy.routing;

import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpError;

/** Who waits for the reply to a command sent upstream. Called on the guest's loop thread. */
public interface ReplyHandler {
    /** QEMU answered; {@code proxyId} is the id member the proxy had put in. */
    void onReply(JsonMessage reply, JsonMessage.Member proxyId);

    /** No reply will come (QEMU went away, or the command was never sent). */
    void onAbandoned(QmpError reason);
}
