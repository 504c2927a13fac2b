package dev.qmpx.qmp.message;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.JsonStreamer;
import dev.qmpx.qmp.json.QemuJson;

import java.util.Iterator;
import java.util.Map;

/**
 * Turns streamer output into commands, with the checks and texts of QEMU's
 * {@code qmp_dispatch_check_obj} (qapi/qmp-dispatch.c, QEMU 7.2).
 */
public final class QmpRequests {
    private QmpRequests() {
    }

    /** @param oobEnabled whether the client negotiated the "oob" capability ({@code exec-oob} allowed) */
    public static ClientInput read(JsonStreamer.Item item, boolean oobEnabled) {
        return switch (item) {
            case JsonStreamer.Failed failed -> new RejectedInput(null, QmpError.generic(failed.desc()));
            case JsonStreamer.Parsed parsed -> check(parsed.message(), oobEnabled);
        };
    }

    private static ClientInput check(JsonMessage message, boolean oobEnabled) {
        if (!(message.tree() instanceof ObjectNode object)) {
            return new RejectedInput(null, QmpError.generic("QMP input must be a JSON object"));
        }
        JsonMessage.Member idMember = message.member("id");
        byte[] rawId = idMember == null ? null : QemuJson.withDoubleQuotes(message.valueBytes(idMember));
        String execKey = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = object.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> member = it.next();
            String key = member.getKey();
            JsonNode value = member.getValue();
            if (key.equals("execute") || (key.equals("exec-oob") && oobEnabled)) {
                if (!value.isTextual()) {
                    return reject(rawId, "QMP input member '" + key + "' must be a string");
                }
                if (execKey != null) {
                    return reject(rawId, "QMP input member '" + key + "' clashes with '" + execKey + "'");
                }
                execKey = key;
            } else if (key.equals("arguments")) {
                if (!value.isObject()) {
                    return reject(rawId, "QMP input member 'arguments' must be an object");
                }
            } else if (!key.equals("id")) {
                return reject(rawId, "QMP input member '" + key + "' is unexpected");
            }
        }
        if (execKey == null) {
            return reject(rawId, "QMP input lacks member 'execute'");
        }
        JsonNode arguments = object.get("arguments");
        return new ClientCommand(object.get(execKey).textValue(), execKey.equals("exec-oob"),
                arguments == null ? JsonNodeFactory.instance.objectNode() : (ObjectNode) arguments,
                rawId, message);
    }

    private static RejectedInput reject(byte[] rawId, String desc) {
        return new RejectedInput(rawId, QmpError.generic(desc));
    }
}
