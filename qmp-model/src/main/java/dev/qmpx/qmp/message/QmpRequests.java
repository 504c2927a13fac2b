package dev.qmpx.qmp.message;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.JsonStreamer;
import dev.qmpx.qmp.json.QemuJson;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
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
        byte[] rawId = idMember == null ? null : QemuJson.oneLine(QemuJson.withDoubleQuotes(message.valueBytes(idMember)));
        String execKey = null;
        for (Map.Entry<String, JsonNode> member : inQDictOrder(object)) {
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

    /**
     * The members in the order QEMU's qdict_first/qdict_next visit them, which decides which
     * error is reported when there are several: by bucket (tdb_hash(key) % 512), and within a
     * bucket the member added last first.
     */
    private static List<Map.Entry<String, JsonNode>> inQDictOrder(ObjectNode object) {
        List<Map.Entry<String, JsonNode>> members = new ArrayList<>(object.properties());
        Collections.reverse(members);
        members.sort(Comparator.comparingInt(member -> qdictBucket(member.getKey())));
        return members;
    }

    /** qobject/qdict.c: tdb_hash(key) % QDICT_BUCKET_MAX, over the key's modified UTF-8 bytes. */
    static int qdictBucket(String key) {
        java.io.ByteArrayOutputStream name = new java.io.ByteArrayOutputStream(key.length() + 4);
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            if (b == 0) {
                name.write(0xC0); // U+0000 is C0 80 in modified UTF-8
                name.write(0x80);
            } else {
                name.write(b);
            }
        }
        return Integer.remainderUnsigned(tdbHash(name.toByteArray()), 512);
    }

    private static int tdbHash(byte[] name) {
        int value = 0x238F13AF * name.length;
        for (int i = 0; i < name.length; i++) {
            value += (name[i] & 0xFF) << (i * 5 % 24);
        }
        return 1103515243 * value + 12345;
    }

    private static RejectedInput reject(byte[] rawId, String desc) {
        return new RejectedInput(rawId, QmpError.generic(desc));
    }
}
