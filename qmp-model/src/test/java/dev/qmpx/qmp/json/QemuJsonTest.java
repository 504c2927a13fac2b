package dev.qmpx.qmp.json;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;

import static dev.qmpx.qmp.json.JsonStreamerTest.bytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** QEMU's string output conventions (qobject/json-writer.c, util/unicode.c). */
class QemuJsonTest {

    static Stream<Arguments> quoted() {
        return Stream.of(
                Arguments.of("", "\"\""),
                Arguments.of("query-status", "\"query-status\""),
                Arguments.of("a\"b\\c\n/", "\"a\\\"b\\\\c\\n/\""), // qemu-facts §3, echoed as sent
                Arguments.of("/", "\"/\""),
                Arguments.of("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""),
                Arguments.of("\0", "\"\\u0000\""),
                Arguments.of("\u0001\u001f", "\"\\u0001\\u001F\""),
                Arguments.of("\u000b", "\"\\u000B\""),
                Arguments.of(" ~", "\" ~\""),
                Arguments.of("\u007f", "\"\\u007F\""),
                Arguments.of("\u0080\u00ff", "\"\\u0080\\u00FF\""),
                // qemu-facts §3: "\u00e9\ud83d\ude00 é" is echoed as "\u00E9\uD83D\uDE00 \u00E9"
                Arguments.of("\u00e9\uD83D\uDE00 \u00e9", "\"\\u00E9\\uD83D\\uDE00 \\u00E9\""),
                Arguments.of("\uFFFD", "\"\\uFFFD\""),
                Arguments.of(new String(Character.toChars(0x10FFFD)), "\"\\uDBFF\\uDFFD\""),
                Arguments.of("JSON parse error, stray '\"x\n'", "\"JSON parse error, stray '\\\"x\\n'\""),
                Arguments.of("'single'", "\"'single'\""));
    }

    @ParameterizedTest
    @MethodSource("quoted")
    void quoteEscapesAsQemuDoes(String raw, String expected) {
        assertEquals(expected, QemuJson.quote(raw));
    }

    @Test
    void quoteOutputIsAscii() {
        String q = QemuJson.quote("\u00e9\uD83D\uDE00\u4e2d\u0001");
        assertEquals(q, new String(q.getBytes(StandardCharsets.US_ASCII), StandardCharsets.US_ASCII));
    }

    static Stream<Arguments> lenient() {
        return Stream.of(
                Arguments.of(bytes("plain ascii"), "plain ascii"),
                Arguments.of(bytes(0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80), "\u00e9\uD83D\uDE00"),
                Arguments.of(bytes(0xC0, 0x80), "\0"),                    // modified UTF-8 NUL
                Arguments.of(bytes("ab", 0, "cd"), "ab"),                // a C string ends at NUL
                Arguments.of(bytes(0), ""),
                Arguments.of(bytes(0x80), "\uFFFD"),                      // lone continuation byte
                Arguments.of(bytes(0x80, 0x80), "\uFFFD\uFFFD"),
                Arguments.of(bytes(0xFE, 0xFF), "\uFFFD\uFFFD"),
                Arguments.of(bytes(0xC3), "\uFFFD"),                      // truncated at the end
                Arguments.of(bytes(0xC3, "x"), "\uFFFDx"),                // missing continuation keeps the next byte
                Arguments.of(bytes(0xE2, 0x82, "\n"), "\uFFFD\n"),
                Arguments.of(bytes(0xF0, 0x9F, 0x98), "\uFFFD"),
                Arguments.of(bytes(0xC0, 0x81), "\uFFFD"),                // overlong: one replacement
                Arguments.of(bytes(0xE0, 0x80, 0x80), "\uFFFD"),
                Arguments.of(bytes(0xED, 0xA0, 0x80), "\uFFFD"),          // surrogate
                Arguments.of(bytes(0xEF, 0xBF, 0xBE), "\uFFFD"),          // noncharacter U+FFFE
                Arguments.of(bytes(0xEF, 0xB7, 0x90), "\uFFFD"),          // noncharacter U+FDD0
                Arguments.of(bytes(0xF0, 0x9F, 0xBF, 0xBF), "\uFFFD"),    // noncharacter U+1FFFF
                Arguments.of(bytes(0xF4, 0x90, 0x80, 0x80), "\uFFFD"),    // beyond U+10FFFF
                Arguments.of(bytes(0xF8, 0x88, 0x80, 0x80, 0x80), "\uFFFD"),
                Arguments.of(bytes(0xFC, 0x84, 0x80, 0x80, 0x80, 0x80), "\uFFFD"),
                Arguments.of(bytes(0xEF, 0xBF, 0xBD), "\uFFFD"));          // U+FFFD itself
    }

    @ParameterizedTest
    @MethodSource("lenient")
    void decodeLenientReadsBytesAsQemuPrintsThem(byte[] in, String expected) {
        assertEquals(expected, QemuJson.decodeLenient(in));
    }

    static Stream<Arguments> doubleQuoted() {
        return Stream.of(
                Arguments.of("'abc'", "\"abc\""),
                Arguments.of("'it\\'s \"x\"'", "\"it's \\\"x\\\"\""),
                Arguments.of("'caf\u00e9'", "\"caf\\u00E9\""),
                Arguments.of("{'a' : [\"b\", 'c', 1.50]}", "{\"a\" : [\"b\", \"c\", 1.50]}"),
                Arguments.of("[\"don't\", 'x']", "[\"don't\", \"x\"]"),
                Arguments.of("'\\u00e9\\n'", "\"\\u00E9\\n\""));
    }

    @ParameterizedTest
    @MethodSource("doubleQuoted")
    void withDoubleQuotesRewritesOnlySingleQuotedStrings(String in, String expected) {
        assertEquals(expected, new String(QemuJson.withDoubleQuotes(in.getBytes(StandardCharsets.UTF_8)),
                StandardCharsets.UTF_8));
    }

    @Test
    void withDoubleQuotesLeavesOtherValuesAlone() {
        byte[] v = bytes("{\"a\": [1, {\"b\": 2.50}], \"c\": \"\u00e9\\\"\"}");
        assertSame(v, QemuJson.withDoubleQuotes(v));
        byte[] n = bytes("-0");
        assertSame(n, QemuJson.withDoubleQuotes(n));
    }

    @Test
    void withDoubleQuotesRejectsWhatIsNotAValidString() {
        assertThrows(IllegalArgumentException.class, () -> QemuJson.withDoubleQuotes(bytes("'\\q'")));
    }
}
