package dev.qmpx.qmp.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Parses the tokens of one message the way QEMU's qobject/json-parser.c does, with its error texts
 * (the first error found is the one reported), and records the byte spans of the top-level members.
 *
 * <p>Strings follow QEMU: single quotes allowed, {@code \'} is an escape, {@code \\uXXXX} surrogate
 * pairs are joined, invalid UTF-8 is an error. Integers become long, then unsigned 64-bit, then
 * double, as QEMU's QNum does.
 */
final class JsonParser {

    /** A syntax error; its message is what follows "JSON parse error, " in QEMU's reply. */
    static final class SyntaxError extends Exception {
        SyntaxError(String message) {
            // parse_error() formats into char message[1024]: longer texts are cut to 1023 bytes
            super(message.length() > 1023 ? message.substring(0, 1023) : message, null, false, false);
        }
    }

    private static final TokenType[] TYPES = TokenType.values();
    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    /** Digits of UINT64_MAX (18446744073709551615); a longer integer token (sign aside) cannot fit. */
    private static final int UINT64_DIGITS = 20;
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final byte[] text;
    private final int[] tokens;
    private final int count;
    private final boolean buildTree;
    private int next;

    JsonParser(byte[] text, int[] tokens, int count, boolean buildTree) {
        this.text = text;
        this.tokens = tokens;
        this.count = count;
        this.buildTree = buildTree;
    }

    JsonMessage parse() throws SyntaxError {
        List<JsonMessage.Member> members = new ArrayList<>();
        JsonNode tree;
        if (type(0) == TokenType.LCURLY) {
            tree = parseObject(members);
        } else {
            tree = parseValue();
        }
        return new JsonMessage(text, buildTree ? tree : null, members);
    }

    private TokenType type(int index) {
        return TYPES[tokens[index * 3]];
    }

    private int start(int index) {
        return tokens[index * 3 + 1];
    }

    private int end(int index) {
        return tokens[index * 3 + 2];
    }

    private int peek() throws SyntaxError {
        if (next >= count) {
            throw new SyntaxError("premature EOI");
        }
        return next;
    }

    private JsonNode parseValue() throws SyntaxError {
        int t = peek();
        return switch (type(t)) {
            case LCURLY -> parseObject(null);
            case LSQUARE -> parseArray();
            case STRING -> {
                next++;
                yield buildTree ? NODES.textNode(string(t)) : validateString(t);
            }
            case INTEGER -> {
                next++;
                yield integer(t);
            }
            case FLOAT -> {
                next++;
                yield buildTree ? NODES.numberNode(Double.parseDouble(ascii(t))) : null;
            }
            case KEYWORD -> {
                next++;
                yield keyword(t);
            }
            default -> throw new SyntaxError("expecting value");
        };
    }

    /** @param members where to record top-level member spans, or null for a nested object */
    private JsonNode parseObject(List<JsonMessage.Member> members) throws SyntaxError {
        next++;
        ObjectNode object = buildTree ? NODES.objectNode() : null;
        Set<String> keys = buildTree ? null : new HashSet<>();
        if (type(peek()) == TokenType.RCURLY) {
            next++;
            return object;
        }
        while (true) {
            int keyToken = peek();
            int separatorBefore = keyToken > 1 ? keyToken - 1 : -1;
            if (type(keyToken) != TokenType.STRING) {
                parseValue();
                throw new SyntaxError("key is not a string in object");
            }
            next++;
            String key = string(keyToken);
            int colon = peek();
            next++;
            if (type(colon) != TokenType.COLON) {
                throw new SyntaxError("missing : in object pair");
            }
            int valueToken = next;
            if (valueToken >= count) {
                throw new SyntaxError("premature EOI");
            }
            JsonNode value = parseValue();
            int valueEnd = end(next - 1);
            boolean duplicate = buildTree ? object.has(key) : !keys.add(key);
            if (duplicate) {
                throw new SyntaxError("duplicate key");
            }
            if (buildTree) {
                object.set(key, value);
            }
            int after = peek();
            next++;
            if (members != null) {
                members.add(member(key, keyToken, valueToken, valueEnd, separatorBefore, after));
            }
            if (type(after) == TokenType.RCURLY) {
                return object;
            }
            if (type(after) != TokenType.COMMA) {
                throw new SyntaxError("expected separator in dict");
            }
        }
    }

    private JsonMessage.Member member(String key, int keyToken, int valueToken, int valueEnd,
                                      int separatorBefore, int after) {
        int cutStart;
        int cutEnd;
        if (separatorBefore >= 0) {
            cutStart = start(separatorBefore);
            cutEnd = valueEnd;
        } else if (type(after) == TokenType.COMMA && after + 1 < count) {
            cutStart = start(keyToken);
            cutEnd = start(after + 1);
        } else {
            cutStart = start(keyToken);
            cutEnd = valueEnd;
        }
        return new JsonMessage.Member(key, start(valueToken), valueEnd, cutStart, cutEnd);
    }

    private JsonNode parseArray() throws SyntaxError {
        next++;
        ArrayNode array = buildTree ? NODES.arrayNode() : null;
        if (type(peek()) == TokenType.RSQUARE) {
            next++;
            return array;
        }
        while (true) {
            JsonNode value = parseValue();
            if (buildTree) {
                array.add(value);
            }
            int after = peek();
            next++;
            if (type(after) == TokenType.RSQUARE) {
                return array;
            }
            if (type(after) != TokenType.COMMA) {
                throw new SyntaxError("expected separator in list");
            }
        }
    }

    private JsonNode keyword(int t) throws SyntaxError {
        String word = ascii(t);
        return switch (word) {
            case "true" -> NODES.booleanNode(true);
            case "false" -> NODES.booleanNode(false);
            case "null" -> NODES.nullNode();
            default -> throw new SyntaxError("invalid keyword '" + word + "'");
        };
    }

    private JsonNode integer(int t) {
        if (!buildTree) {
            return null;
        }
        String digits = ascii(t);
        if (digits.length() > UINT64_DIGITS) {
            // Beyond any 64-bit integer, so a double in QEMU too (strtod); parsed straight to one,
            // in linear time, where BigInteger's parsing is quadratic (a 1 MB integer took 17 s).
            return NODES.numberNode(Double.parseDouble(digits));
        }
        try {
            return NODES.numberNode(Long.parseLong(digits));
        } catch (NumberFormatException outOfRange) {
            BigInteger big = new BigInteger(digits);
            if (big.signum() > 0 && big.compareTo(UINT64_MAX) <= 0) {
                return NODES.numberNode(big);
            }
            return NODES.numberNode(big.doubleValue());
        }
    }

    private String ascii(int t) {
        return new String(text, start(t), end(t) - start(t), java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    private JsonNode validateString(int t) throws SyntaxError {
        string(t);
        return null;
    }

    /** Decodes a string token; the token includes its quotes. */
    private String string(int t) throws SyntaxError {
        return decodeString(start(t), end(t));
    }

    /** Decodes the quoted string at text[start, end) (quotes included), which the lexer accepted. */
    static String decodeString(byte[] text, int start, int end) throws SyntaxError {
        return new JsonParser(text, new int[0], 0, false).decodeString(start, end);
    }

    private String decodeString(int start, int end) throws SyntaxError {
        int i = start + 1;
        int stop = end - 1;
        StringBuilder out = new StringBuilder(stop - i);
        while (i < stop) {
            int c = text[i] & 0xFF;
            if (c == '\\') {
                int escapeStart = i;
                i++;
                char e = (char) (text[i] & 0xFF);
                i++;
                switch (e) {
                    case '"' -> out.append('"');
                    case '\'' -> out.append('\'');
                    case '\\' -> out.append('\\');
                    case '/' -> out.append('/');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> {
                        int cp = hex4(i, stop);
                        i += 4;
                        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < stop && text[i] == '\\' && text[i + 1] == 'u') {
                            int trailing = hex4(i + 2, stop);
                            if (trailing >= 0xDC00 && trailing <= 0xDFFF) {
                                cp = 0x10000 + ((cp & 0x3FF) << 10) + (trailing & 0x3FF);
                                i += 6;
                            } else {
                                cp = -1;
                            }
                        }
                        if (cp < 0 || (cp >= 0xD800 && cp <= 0xDFFF) || isNoncharacter(cp)) {
                            String seq = QemuJson.decodeLenient(
                                    java.util.Arrays.copyOfRange(text, escapeStart, Math.min(i, end)));
                            throw new SyntaxError(seq + " is not a valid Unicode character");
                        }
                        out.appendCodePoint(cp);
                    }
                    default -> throw new SyntaxError("invalid escape sequence in string");
                }
            } else if (c < 0x80) {
                out.append((char) c);
                i++;
            } else {
                i = utf8(i, stop, out);
            }
        }
        return out.toString();
    }

    /** U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF, which QEMU (util/unicode.c) rejects. */
    private static boolean isNoncharacter(int cp) {
        return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
    }

    private int hex4(int at, int stop) {
        if (at + 4 > stop) {
            return -1;
        }
        int cp = 0;
        for (int k = 0; k < 4; k++) {
            int d = Character.digit(text[at + k] & 0xFF, 16);
            if (d < 0) {
                return -1;
            }
            cp = (cp << 4) | d;
        }
        return cp;
    }

    /** Decodes one UTF-8 sequence (QEMU's modified UTF-8: also C0 80 for U+0000). */
    private int utf8(int i, int stop, StringBuilder out) throws SyntaxError {
        int c = text[i] & 0xFF;
        int length;
        int cp;
        int min;
        if (c >= 0xC0 && c <= 0xDF) {
            length = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            throw new SyntaxError("invalid UTF-8 sequence in string");
        }
        if (i + length > stop) {
            throw new SyntaxError("invalid UTF-8 sequence in string");
        }
        for (int k = 1; k < length; k++) {
            int cc = text[i + k] & 0xFF;
            if ((cc & 0xC0) != 0x80) {
                throw new SyntaxError("invalid UTF-8 sequence in string");
            }
            cp = (cp << 6) | (cc & 0x3F);
        }
        boolean modifiedNul = length == 2 && cp == 0;
        if ((cp < min && !modifiedNul) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || isNoncharacter(cp)) {
            throw new SyntaxError("invalid UTF-8 sequence in string");
        }
        out.appendCodePoint(cp);
        return i + length;
    }
}
