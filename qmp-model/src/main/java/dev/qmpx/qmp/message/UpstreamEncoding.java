package dev.qmpx.qmp.message;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.qmp.json.JsonMessage;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * What the proxy sends QEMU for a client's command: the command without its id and without
 * insignificant whitespace, ready for the proxy's own id to be appended.
 *
 * <p>QEMU reads its monitor one byte per recvmsg and pays about 1.5 µs per request byte
 * (qemu-facts §0.1, §10), so the compact form is what keeps a proxied command as cheap as a direct
 * one. No trailing newline is sent: QEMU never reads a byte after the closing brace until the next
 * command, and an unread newline turns the EOF after {@code quit} into ECONNRESET (§0.10).
 */
public final class UpstreamEncoding {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private UpstreamEncoding() {
    }

    /**
     * The command's bytes up to, not including, its closing brace, with the id removed. Commands
     * sent with {@code exec-oob} become {@code execute}: the proxy never negotiates OOB upstream.
     */
    public static byte[] prefix(ClientCommand command) {
        if (command.outOfBand()) {
            return prefix(rebuilt(command.name(), command.arguments()));
        }
        JsonMessage message = command.message();
        JsonMessage.Member id = message.member("id");
        byte[] text = message.text();
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length);
        int quote = 0;
        boolean escaped = false;
        for (int i = 0; i < text.length - 1; i++) {
            if (id != null && i == id.cutStart()) {
                i = id.cutEnd() - 1;
                continue;
            }
            byte b = text[i];
            if (quote != 0) {
                if (escaped) {
                    escaped = false;
                } else if (b == '\\') {
                    escaped = true;
                } else if (b == quote) {
                    quote = 0;
                }
            } else if (b == '"' || b == '\'') {
                quote = b;
            } else if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                continue;
            }
            out.write(b);
        }
        return out.toByteArray();
    }

    /** A command built by the proxy itself (internal requests, rewritten arguments). */
    public static byte[] prefix(String name, ObjectNode arguments) {
        return prefix(rebuilt(name, arguments));
    }

    private static byte[] prefix(byte[] object) {
        return java.util.Arrays.copyOf(object, object.length - 1);
    }

    private static byte[] rebuilt(String name, ObjectNode arguments) {
        ObjectNode command = MAPPER.createObjectNode();
        command.put("execute", name);
        if (arguments != null && !arguments.isEmpty()) {
            command.set("arguments", arguments);
        }
        try {
            return MAPPER.writeValueAsBytes(command);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot serialise command " + name, e);
        }
    }

    /** The full command without an id: prefix, then its closing brace. */
    public static byte[] withoutId(byte[] prefix) {
        byte[] out = java.util.Arrays.copyOf(prefix, prefix.length + 1);
        out[prefix.length] = '}';
        return out;
    }

    /** The full command: prefix, then {@code ,"id":ID}. */
    public static byte[] withId(byte[] prefix, String idJson) {
        byte[] id = (",\"id\":" + idJson + "}").getBytes(StandardCharsets.US_ASCII);
        byte[] out = java.util.Arrays.copyOf(prefix, prefix.length + id.length);
        System.arraycopy(id, 0, out, prefix.length, id.length);
        return out;
    }
}
