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
    /**
     * Numbers up to this long go to QEMU as sent: every 64-bit integer (-9223372036854775808 and
     * 18446744073709551615 have 20 digits), and every double's shortest text, fit.
     */
    private static final int LONGEST_EXACT_NUMBER = 24;

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
            } else if (b == '-' || (b >= '0' && b <= '9')) {
                int end = numberEnd(text, i);
                writeNumber(text, i, end, out);
                i = end - 1;
                continue;
            }
            out.write(b);
        }
        return out.toByteArray();
    }

    /** Where the number token starting at text[start] ends (the message parsed, so it is well formed). */
    private static int numberEnd(byte[] text, int start) {
        int end = start + 1;
        while (end < text.length && isNumberByte(text[end])) {
            end++;
        }
        return end;
    }

    private static boolean isNumberByte(byte b) {
        return (b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E';
    }

    /**
     * A number as QEMU gets it: unchanged, or, when longer than any 64-bit integer, as the shortest
     * text of the same double. QEMU makes such a number a double anyway (strtod, after strtoll and
     * strtoull overflow), and no answer quotes a number's text; but QEMU reads its monitor a byte at
     * a time and glibc's strtod is slow on a megabyte of digits: forwarded as sent, one client's
     * 1 MB integer kept QEMU from answering anyone for more than 10 s. Java's parsing and glibc's
     * strtod are both correctly rounded, so the double is the same; beyond the largest double it is
     * infinity, which {@code 1e999} gives too.
     */
    private static void writeNumber(byte[] text, int start, int end, ByteArrayOutputStream out) {
        if (end - start <= LONGEST_EXACT_NUMBER) {
            out.write(text, start, end - start);
            return;
        }
        double value = Double.parseDouble(new String(text, start, end - start, StandardCharsets.ISO_8859_1));
        String shortest = Double.isInfinite(value) ? (value > 0 ? "1e999" : "-1e999") : Double.toString(value);
        out.writeBytes(shortest.getBytes(StandardCharsets.US_ASCII));
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
