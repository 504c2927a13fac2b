package dev.qmpx.qmp.message;

import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.QemuJson;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Lines in QEMU's output format: ", " and ": " separators, {@code \r\n} endings, {@code "id"} after
 * {@code "return"} and before {@code "error"} (QEMU's QDict order), ids spliced in as raw bytes.
 */
public final class QmpWire {
    private static final byte[] CRLF = {'\r', '\n'};

    private QmpWire() {
    }

    public static byte[] errorLine(byte[] rawId, QmpError error) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(96);
        out.writeBytes(ascii("{"));
        if (rawId != null) {
            out.writeBytes(ascii("\"id\": "));
            out.writeBytes(rawId);
            out.writeBytes(ascii(", "));
        }
        out.writeBytes(ascii("\"error\": {\"class\": " + QemuJson.quote(error.errorClass().name())
                + ", \"desc\": " + QemuJson.quote(error.desc()) + "}}"));
        out.writeBytes(CRLF);
        return out.toByteArray();
    }

    /**
     * QEMU's error reply as a line for the client, with its description rewritten into the client's
     * terms (its own names, ids or paths).
     */
    public static byte[] errorLine(byte[] rawId, JsonMessage reply, java.util.function.UnaryOperator<String> desc) {
        com.fasterxml.jackson.databind.JsonNode error = reply.asTree().path("error");
        return errorLine(rawId, new QmpError(ErrorClass.valueOf(error.path("class").asText()),
                desc.apply(error.path("desc").asText())));
    }

    /** @param returnJson the value of "return", already in QEMU's format (e.g. {@code {}}) */
    public static byte[] returnLine(byte[] rawId, String returnJson) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(32);
        out.writeBytes(("{\"return\": " + returnJson).getBytes(StandardCharsets.UTF_8));
        if (rawId != null) {
            out.writeBytes(ascii(", \"id\": "));
            out.writeBytes(rawId);
        }
        out.writeBytes(ascii("}"));
        out.writeBytes(CRLF);
        return out.toByteArray();
    }

    /** The message as a line: its bytes exactly, then {@code \r\n}. */
    public static byte[] line(JsonMessage message) {
        byte[] text = message.text();
        byte[] out = new byte[text.length + 2];
        System.arraycopy(text, 0, out, 0, text.length);
        out[text.length] = '\r';
        out[text.length + 1] = '\n';
        return out;
    }

    /**
     * A reply from QEMU as a line for the client: QEMU's bytes with the proxy's id replaced by the
     * client's raw id, or the id member removed when the client sent none; unchanged when the
     * command went to QEMU without an id.
     */
    public static byte[] replyLine(JsonMessage reply, JsonMessage.Member proxyId, byte[] clientId) {
        byte[] text = reply.text();
        if (proxyId == null) {
            if (clientId != null) {
                throw new IllegalArgumentException("a reply without the proxy's id cannot carry the client's");
            }
            return line(reply);
        }
        int cutStart = clientId == null ? proxyId.cutStart() : proxyId.valueStart();
        int cutEnd = clientId == null ? proxyId.cutEnd() : proxyId.valueEnd();
        int insert = clientId == null ? 0 : clientId.length;
        byte[] out = new byte[text.length - (cutEnd - cutStart) + insert + 2];
        System.arraycopy(text, 0, out, 0, cutStart);
        if (clientId != null) {
            System.arraycopy(clientId, 0, out, cutStart, insert);
        }
        System.arraycopy(text, cutEnd, out, cutStart + insert, text.length - cutEnd);
        out[out.length - 2] = '\r';
        out[out.length - 1] = '\n';
        return out;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
