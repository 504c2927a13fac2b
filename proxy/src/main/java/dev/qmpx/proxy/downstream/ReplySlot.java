package dev.qmpx.proxy.downstream;

import dev.qmpx.proxy.routing.ReplyHandler;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpWire;

/**
 * A client's place in its own reply order. QEMU answers a monitor's commands in the order it read
 * them, including its answers to malformed input; the proxy answers some input itself, so each
 * answer waits in its slot until every earlier one has gone out.
 */
final class ReplySlot implements ReplyHandler {
    private final ClientSession session;
    private final byte[] rawId;
    private final ReplyMapper mapper;
    private byte[] line;
    /** Bytes of the client's input this answer is for, counted against the client's held input. */
    private int weight;

    /** @param mapper how to map the reply back when the proxy rewrote the command, or null */
    ReplySlot(ClientSession session, byte[] rawId, ReplyMapper mapper) {
        this.session = session;
        this.rawId = rawId;
        this.mapper = mapper;
    }

    static ReplySlot answered(ClientSession session, byte[] line) {
        ReplySlot slot = new ReplySlot(session, null, null);
        slot.line = line;
        return slot;
    }

    byte[] line() {
        return line;
    }

    void weigh(int inputBytes) {
        weight += inputBytes;
    }

    int weight() {
        return weight;
    }

    @Override
    public void onReply(JsonMessage reply, JsonMessage.Member proxyId) {
        line = mapper == null ? QmpWire.replyLine(reply, proxyId, rawId) : mapper.line(reply, proxyId, rawId);
        session.flushReplies();
    }

    @Override
    public boolean routesWithoutId() {
        return rawId == null && mapper == null;
    }

    @Override
    public void onLocalReturn(String returnJson) {
        line = QmpWire.returnLine(rawId, returnJson);
        session.flushReplies();
    }

    @Override
    public void onAbandoned(QmpError reason) {
        line = QmpWire.errorLine(rawId, reason);
        session.flushReplies();
    }
}
