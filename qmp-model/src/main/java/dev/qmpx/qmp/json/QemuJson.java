package dev.qmpx.qmp.json;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Text conventions of QEMU's JSON output (qobject/qjson.c), for answers the proxy gives itself. */
public final class QemuJson {
    private QemuJson() {
    }

    /**
     * Quotes a string as QEMU does: {@code \"}, {@code \\}, the short escapes for b f n r t, and
     * every other code point below 0x20 or above 0x7E as upper-case {@code \\uXXXX} (surrogate
     * pairs beyond the BMP). {@code /} is not escaped.
     */
    public static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2);
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7F) {
                        out.append(String.format("\\u%04X", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    /**
     * A raw JSON value as a client may echo it back: single-quoted strings (a QEMU extension the
     * client may have used) become double-quoted as QEMU would print them; everything else, and any
     * value without single quotes, is returned byte for byte.
     */
    public static byte[] withDoubleQuotes(byte[] value) {
        if (!contains(value, (byte) '\'')) {
            return value;
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(value.length + 8);
        int i = 0;
        while (i < value.length) {
            byte b = value[i];
            if (b == '"' || b == '\'') {
                int end = stringEnd(value, i);
                if (b == '"') {
                    out.write(value, i, end - i);
                } else {
                    try {
                        out.writeBytes(quote(JsonParser.decodeString(value, i, end)).getBytes(StandardCharsets.US_ASCII));
                    } catch (JsonParser.SyntaxError e) {
                        throw new IllegalArgumentException("not a parsed JSON value: " + e.getMessage(), e);
                    }
                }
                i = end;
            } else {
                out.write(b);
                i++;
            }
        }
        return out.toByteArray();
    }

    private static int stringEnd(byte[] value, int start) {
        byte quote = value[start];
        for (int i = start + 1; i < value.length; i++) {
            if (value[i] == '\\') {
                i++;
            } else if (value[i] == quote) {
                return i + 1;
            }
        }
        return value.length;
    }

    private static boolean contains(byte[] value, byte wanted) {
        for (byte b : value) {
            if (b == wanted) {
                return true;
            }
        }
        return false;
    }

    /** Decodes UTF-8, replacing what is not valid with U+FFFD, as QEMU does when it prints bad input. */
    static String decodeLenient(byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            CharBuffer chars = decoder.decode(ByteBuffer.wrap(bytes));
            return chars.toString();
        } catch (CharacterCodingException impossibleWithReplace) {
            throw new IllegalStateException(impossibleWithReplace);
        }
    }
}
