package dev.qmpx.proxy.downstream;

import dev.qmpx.qmp.json.JsonMessage;

/** Turns QEMU's reply into the client's line when the proxy rewrote the command. Loop thread. */
public interface ReplyMapper {
    byte[] line(JsonMessage reply, JsonMessage.Member proxyId, byte[] clientRawId);
}
