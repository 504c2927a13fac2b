package dev.qmpx.qmp.json;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * One JSON value held in a string, parsed as QEMU 7.2's {@code qobject_from_json} does (the
 * {@code json:} pseudo-protocol of block file names, for one): the same lexer and parser as QMP
 * input, the whole text must be exactly one value, and anything QEMU would reject is rejected.
 */
public final class JsonText {
    private JsonText() {
    }

    /** @return the value, or null where QEMU reports an error (syntax, limits, more than one value, none) */
    public static JsonNode parse(String text) {
        List<JsonStreamer.Item> items = new ArrayList<>();
        JsonStreamer streamer = new JsonStreamer(JsonLimits.CLIENT_DEFAULT, true, items::add);
        byte[] bytes = cString(text);
        streamer.feed(bytes, 0, bytes.length);
        // json_message_parser_flush ends a trailing number or keyword as any delimiter would.
        streamer.feed(new byte[] {' '}, 0, 1);
        if (items.size() != 1 || !streamer.isIdle() || !(items.getFirst() instanceof JsonStreamer.Parsed parsed)) {
            return null;
        }
        return parsed.message().asTree();
    }

    /**
     * The bytes of QEMU's C string for a string it decoded from JSON: UTF-8, with U+0000 as the
     * modified-UTF-8 pair C0 80 (how QEMU's parser stores {@code \u0000}), so no string ends early.
     */
    static byte[] cString(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length() + 8);
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == 0) {
                out.write(0xC0);
                out.write(0x80);
            } else {
                out.writeBytes(new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        return out.toByteArray();
    }
}
