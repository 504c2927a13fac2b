package dev.qmpx.proxy.fds;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.proxy.downstream.ReplyMapper;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.QemuJson;
import dev.qmpx.qmp.message.ErrorClass;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpWire;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.UnaryOperator;

/**
 * A reply mapped back into the client's terms: its names and fdset ids in error texts, its view
 * of a return value, and bookkeeping when the command succeeded.
 */
final class RewrittenReply implements ReplyMapper {
    private static final ObjectMapper MAPPER = new ObjectMapper();

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
            JsonNode error = tree(reply).path("error");
            return QmpWire.errorLine(clientRawId, new QmpError(ErrorClass.valueOf(error.path("class").asText()),
                    fds.clientText(error.path("desc").asText())));
        }
        onSuccess.run();
        if (returnValue == null) {
            return QmpWire.replyLine(reply, proxyId, clientRawId);
        }
        return QmpWire.returnLine(clientRawId, QemuJson.write(returnValue.apply(tree(reply).path("return"))));
    }

    private static JsonNode tree(JsonMessage reply) {
        try {
            return MAPPER.readTree(reply.text());
        } catch (IOException e) {
            throw new UncheckedIOException("QEMU's reply is not JSON", e);
        }
    }
}
