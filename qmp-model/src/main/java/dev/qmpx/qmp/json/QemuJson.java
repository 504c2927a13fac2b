package dev.qmpx.qmp.json;

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
     * A value as QEMU prints it: {@code {"a": 1, "b": [true, null]}} with ", " and ": ", members in
     * the tree's order, strings quoted by {@link #quote}. For replies the proxy rewrites.
     */
    public static String write(com.fasterxml.jackson.databind.JsonNode node) {
        StringBuilder out = new StringBuilder();
        write(node, out);
        return out.toString();
    }

    private static void write(com.fasterxml.jackson.databind.JsonNode node, StringBuilder out) {
        if (node.isObject()) {
            out.append('{');
            String separator = "";
            for (var member : node.properties()) {
                out.append(separator).append(quote(member.getKey())).append(": ");
                write(member.getValue(), out);
                separator = ", ";
            }
            out.append('}');
        } else if (node.isArray()) {
            out.append('[');
            for (int i = 0; i < node.size(); i++) {
                if (i > 0) {
                    out.append(", ");
                }
                write(node.get(i), out);
            }
            out.append(']');
        } else if (node.isTextual()) {
            out.append(quote(node.textValue()));
        } else {
            out.append(node.toString());
        }
    }

    /**
     * A raw value without the line breaks a client may have put between its tokens: every answer is
     * one line (QMP clients read line by line; an id written over two lines came back as two broken
     * lines), and in a value the lexer accepted, a CR or LF can only be whitespace between tokens.
     */
    public static byte[] oneLine(byte[] value) {
        if (!contains(value, (byte) '\n') && !contains(value, (byte) '\r')) {
            return value;
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(value.length);
        for (byte b : value) {
            if (b != '\n' && b != '\r') {
                out.write(b);
            }
        }
        return out.toByteArray();
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

    /**
     * Decodes bytes as QEMU reads a C string it prints (qobject/json-writer.c quoted_str with
     * util/unicode.c mod_utf8_codepoint): the text ends at the first NUL byte, C0 80 is U+0000, and
     * each invalid sequence (bad or missing continuation byte, overlong form, surrogate,
     * noncharacter, beyond U+10FFFF) becomes one U+FFFD.
     */
    static String decodeLenient(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length);
        int i = 0;
        while (i < bytes.length && bytes[i] != 0) {
            int b = bytes[i++] & 0xFF;
            int cp;
            if (b < 0x80) {
                cp = b;
            } else if (b >= 0xFE || (b & 0x40) == 0) {
                cp = -1;
            } else {
                int len = 0;
                int mask = 0x80;
                for (; (b & mask) != 0; mask >>= 1) {
                    len++;
                }
                cp = b & (mask - 1);
                for (int k = 1; k < len; k++) {
                    int c = i < bytes.length ? bytes[i] & 0xFF : 0;
                    if ((c & 0xC0) != 0x80) {
                        cp = -1;
                        break;
                    }
                    i++;
                    cp = (cp << 6) | (c & 0x3F);
                }
                if (cp >= 0 && (cp > 0x10FFFF
                        || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE
                        || (cp >= 0xD800 && cp <= 0xDFFF)
                        || (cp < MIN_CODE_POINT[len - 2] && !(cp == 0 && len == 2)))) {
                    cp = -1;
                }
            }
            out.appendCodePoint(cp < 0 ? 0xFFFD : cp);
        }
        return out.toString();
    }

    /** The smallest code point of a 2-, 3-, 4-, 5- and 6-byte sequence. */
    private static final int[] MIN_CODE_POINT = {0x80, 0x800, 0x10000, 0x200000, 0x4000000};
}
