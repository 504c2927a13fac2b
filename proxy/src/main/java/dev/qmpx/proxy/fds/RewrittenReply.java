package dev.qmpx.proxy.fds;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qmpx.proxy.downstream.ReplyMapper;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.QemuJson;
import dev.qmpx.qmp.message.QmpWire;

import java.util.function.UnaryOperator;

/**
 * A reply mapped back into the client's terms: its names and fdset ids in error texts, its view
 * of a return value, and bookkeeping when the command succeeded.
 */
final class RewrittenReply implements ReplyMapper {
    private final ClientFds fds;
    private final UnaryOperator<JsonNode> returnValue;
    private final Runnable onSuccess;
    private final Runnable onError;

    /**
     * @param returnValue how the client sees the return value, or null to pass QEMU's bytes through
     */
    RewrittenReply(ClientFds fds, UnaryOperator<JsonNode> returnValue, Runnable onSuccess, Runnable onError) {
        this.fds = fds;
        this.returnValue = returnValue;
        this.onSuccess = onSuccess;
        this.onError = onError;
    }

    static RewrittenReply errorTextsOnly(ClientFds fds) {
        return new RewrittenReply(fds, null, () -> { }, () -> { });
    }

    @Override
    public byte[] line(JsonMessage reply, JsonMessage.Member proxyId, byte[] clientRawId) {
        if (reply.member("error") != null) {
            onError.run();
            return QmpWire.errorLine(clientRawId, reply, fds::clientText);
        }
        onSuccess.run();
        if (returnValue == null) {
            return QmpWire.replyLine(reply, proxyId, clientRawId);
        }
        return QmpWire.returnLine(clientRawId, QemuJson.write(returnValue.apply(reply.asTree().path("return"))));
    }
}
