package dev.qmpx.qmp.json;

import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static dev.qmpx.qmp.json.Streams.describeAll;
import static dev.qmpx.qmp.json.Streams.items;
import static dev.qmpx.qmp.json.Streams.text;
import static dev.qmpx.qmp.json.Streams.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Splitting, error texts and recovery of {@link JsonStreamer}, checked against what QEMU 7.2's
 * monitor answers (qemu-facts §3, §4; every expectation below was also observed on the QEMU 7.2
 * of the project machine).
 */
class JsonStreamerTest {

    private static final String PARSE = "error JSON parse error, ";
    private static final String EXPECTING_VALUE = PARSE + "expecting value";

    /** Builds input bytes from UTF-8 text and raw byte values. */
    static byte[] bytes(Object... parts) {
        return Streams.bytes(parts);
    }

    // ---------------------------------------------------------------- splitting

    private static final String MULTI = String.join("",
            "{\"execute\": \"qmp_capabilities\"}\n",
            "{\"execute\":\"query-status\",\"id\":1}{\"execute\": \"query-version\", \"id\": \"two\"}\r\n",
            "  {\"execute\":\n \"query-status\",\n \"id\": \"split\"}\n",
            "{'execute': 'x', 'id': 'caf\\u00e9 \u00e9\uD83D\uDE00'}\n",
            "42\n",
            "\"str\"\n",
            "hello\n",
            "{\"execute\": }\n",
            "{\"execute\": \"query-status\", \"id\": \"x\n",
            "{\"a\":1}}\n",
            "@@ junk\t more junk\n",
            "[1, [2, {\"b\": -1.5e+3}], true, false, null]\n",
            "{\"execute\": \"query-status\", \"id\": \"last\"}");

    private static final List<String> MULTI_EXPECTED = List.of(
            "ok {\"execute\": \"qmp_capabilities\"}",
            "ok {\"execute\":\"query-status\",\"id\":1}",
            "ok {\"execute\": \"query-version\", \"id\": \"two\"}",
            "ok {\"execute\":\n \"query-status\",\n \"id\": \"split\"}",
            "ok {'execute': 'x', 'id': 'caf\\u00e9 \u00e9\uD83D\uDE00'}",
            "ok 42",
            "ok \"str\"",
            PARSE + "invalid keyword 'hello'",
            EXPECTING_VALUE,
            PARSE + "stray '\"x\n'",
            "ok {\"a\":1}",
            EXPECTING_VALUE,
            PARSE + "stray '@'",
            "ok [1, [2, {\"b\": -1.5e+3}], true, false, null]",
            "ok {\"execute\": \"query-status\", \"id\": \"last\"}");

    static Stream<Arguments> chunkSizesAndTreeModes() {
        return Stream.of(1, 2, 3, 7, 64, 4096)
                .flatMap(chunk -> Stream.of(Arguments.of(chunk, true), Arguments.of(chunk, false)));
    }

    @ParameterizedTest(name = "chunk size {0}, buildTree {1}")
    @MethodSource("chunkSizesAndTreeModes")
    void splitsTheSameWayWhateverTheChunkSize(int chunk, boolean buildTree) {
        List<JsonStreamer.Item> got = items(utf8(MULTI), JsonLimits.CLIENT_DEFAULT, buildTree, chunk);
        assertEquals(MULTI_EXPECTED, describeAll(got));
    }

    @Test
    void chunkedMessagesHaveTheSameMembersAndTreesAsUnchunked() {
        List<JsonStreamer.Item> whole = items(utf8(MULTI));
        for (int chunk : new int[] {1, 2, 3, 7, 64}) {
            List<JsonStreamer.Item> split = items(utf8(MULTI), JsonLimits.CLIENT_DEFAULT, true, chunk);
            assertEquals(whole.size(), split.size());
            for (int i = 0; i < whole.size(); i++) {
                if (whole.get(i) instanceof JsonStreamer.Parsed a) {
                    JsonMessage b = assertInstanceOf(JsonStreamer.Parsed.class, split.get(i)).message();
                    assertEquals(a.message().tree(), b.tree(), "tree of item " + i + " at chunk " + chunk);
                    assertEquals(a.message().members(), b.members(), "members of item " + i + " at chunk " + chunk);
                }
            }
        }
    }

    @Test
    void feedHonoursOffsetAndLength() {
        byte[] buf = utf8("garbage{\"execute\":\"x\"}garbage");
        List<JsonStreamer.Item> out = new ArrayList<>();
        JsonStreamer streamer = new JsonStreamer(JsonLimits.CLIENT_DEFAULT, true, out::add);
        streamer.feed(buf, 7, 15);
        assertEquals(List.of("ok {\"execute\":\"x\"}"), describeAll(out));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"execute\":\"query-status\"}",
        "{\"execute\":\"query-status\"}\n",
        "{\"execute\":\"query-status\"}\r\n",
        "\n\n  \t{\"execute\":\"query-status\"}  \n",
        "\r\n{\"execute\":\"query-status\"}\r\n\r\n",
        "\t{\"execute\":\"query-status\"}\t",
    })
    void surroundingWhitespaceAndLineEndsAreNotPartOfTheMessage(String input) {
        assertEquals(List.of("ok {\"execute\":\"query-status\"}"), describeAll(items(input)));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{ \"execute\" :\t\"query-status\" \r\n}",
        "{\"execute\":\n \"query-status\",\n \"id\": \"split\"}",
        "{\r\n    \"execute\": \"query-status\",\r\n    \"arguments\": {\r\n    }\r\n}",
    })
    void whitespaceInsideAMessageIsKeptByteForByte(String input) {
        assertEquals(List.of("ok " + input), describeAll(items(input + "\n")));
    }

    @Test
    void severalMessagesOnOneLineAndOneMessageOverSeveralLines() {
        assertEquals(List.of("ok {\"execute\":\"a\"}", "ok {\"execute\":\"b\"}", "ok [1]", "ok {\n}"),
                describeAll(items("{\"execute\":\"a\"}{\"execute\":\"b\"} [1]\n{\n}\n")));
    }

    // ---------------------------------------------------------------- scalar top-level values

    @Test
    void integerAtTopLevelNeedsTheNextByteToEnd() {
        List<JsonStreamer.Item> out = new ArrayList<>();
        JsonStreamer streamer = new JsonStreamer(JsonLimits.CLIENT_DEFAULT, true, out::add);
        streamer.feed(utf8("42"), 0, 2);
        assertTrue(out.isEmpty(), "42 could still continue: " + describeAll(out));
        assertFalse(streamer.isIdle());
        streamer.feed(utf8("\n"), 0, 1);
        assertEquals(List.of("ok 42"), describeAll(out));
        JsonMessage m = ((JsonStreamer.Parsed) out.getFirst()).message();
        assertEquals(42, m.tree().intValue());
        assertFalse(m.isObject());
        assertTrue(m.members().isEmpty());
        assertTrue(streamer.isIdle());
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"x\"", "'x'", "\"\"", "[]", "{}"})
    void stringsAndContainersEndAtTheirLastByteWithoutLookahead(String input) {
        assertEquals(List.of("ok " + input), describeAll(items(input)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"42", "-7", "0", "-0", "1.50", "1e2", "-1.5E+3", "2e-2", "true", "false", "null"})
    void scalarsAtTopLevel(String scalar) {
        assertEquals(List.of("ok " + scalar), describeAll(items(scalar + "\n")));
    }

    @Test
    void keywordAtTopLevelIsRejectedByTheParser() {
        assertEquals(List.of(PARSE + "invalid keyword 'hello'"), describeAll(items("hello\n")));
    }

    @Test
    void aTokenEndsAtTheFirstByteThatCannotContinueIt() {
        // "0e5": a zero cannot take an exponent, so it is 0, the keyword e, and 5.
        assertEquals(List.of("ok 0", PARSE + "invalid keyword 'e'", "ok 5"), describeAll(items("0e5\n")));
        assertEquals(List.of("ok 1", "ok 2"), describeAll(items("1 2\n")));
        assertEquals(List.of("ok true", "ok [null]"), describeAll(items("true[null]")));
    }

    // ---------------------------------------------------------------- errors

    static Stream<Arguments> errors() {
        return Stream.of(
                // qemu-facts §4, verbatim
                err("{\"execute\": }", "expecting value"),
                err("{\"execute\": \"query-status\"]", "expected separator in dict"),
                err("hello\n", "invalid keyword 'hello'"),
                err("]", "expecting value"),
                err("}", "expecting value"),
                // the other parser errors from a minimal input
                err("[1 2]", "expected separator in list"),
                err("[1, 2 3, }", "expected separator in list"),
                err("{1: 2}", "key is not a string in object"),
                err("{\"a\": 1, 2}", "key is not a string in object"),
                err("{\"a\" 1}", "missing : in object pair"),
                err("{\"a\": 1, \"a\": 2}", "duplicate key"),
                err("{\"execute\": \"query-status\", \"execute\": \"x\"}", "duplicate key"),
                err("{\"a\": 1,}", "expecting value"),
                err("[1,]", "expecting value"),
                err("{\"a\": \"\\q\"}", "invalid escape sequence in string"),
                err("{\"a\": \"\\x41\"}", "invalid escape sequence in string"),
                err("{\"a\": [tru]}", "invalid keyword 'tru'"),
                err("{\"a\": nul}", "invalid keyword 'nul'"),
                // the first error found is the one reported
                err("{\"a\": hello, \"b\" 1}", "invalid keyword 'hello'"),
                err("{\"a\": \"\\q\", 1: 2}", "invalid escape sequence in string"),
                err("{\"a\": 1, \"a\": \"\\q\"}", "invalid escape sequence in string"),
                err("{\"a\": 1, \"a\": 2, 3: 4}", "duplicate key"),
                err("{[1, 2]: 3}", "key is not a string in object"),
                err("{[x]: 3}", "invalid keyword 'x'"));
    }

    private static Arguments err(String input, String desc) {
        return Arguments.of(Named.of(input.strip(), utf8(input)), List.of(PARSE + desc));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("errors")
    void parserErrorTexts(byte[] input, List<String> expected) {
        assertEquals(expected, describeAll(items(input)));
        assertEquals(expected, describeAll(items(input, JsonLimits.CLIENT_DEFAULT, false, input.length)),
                "the same error without building trees");
    }

    static Stream<Arguments> stringErrors() {
        return Stream.of(
                strErr(bytes("\\ud800"), "\\ud800 is not a valid Unicode character"),
                strErr(bytes("\\udc00"), "\\udc00 is not a valid Unicode character"),
                strErr(bytes("\\ud800\\u0041"), "\\ud800 is not a valid Unicode character"),
                strErr(bytes("\\ud800\\u12"), "\\ud800 is not a valid Unicode character"),
                strErr(bytes("\\u12G4"), "\\u12G4 is not a valid Unicode character"),
                // QEMU reports four characters after \\u even when the string ends sooner
                strErr(bytes("\\u00"), "\\u00\" is not a valid Unicode character"),
                strErr(bytes("\\u"), "\\u\" is not a valid Unicode character"),
                strErr(bytes("\\u1", 0xC3, 0xA9), "\\u1\u00e9\" is not a valid Unicode character"),
                // noncharacters are not valid Unicode characters for QEMU
                strErr(bytes("\\uFFFE"), "\\uFFFE is not a valid Unicode character"),
                strErr(bytes("\\uffff"), "\\uffff is not a valid Unicode character"),
                strErr(bytes("\\uFDD0"), "\\uFDD0 is not a valid Unicode character"),
                strErr(bytes("\\ud83f\\udffe"), "\\ud83f\\udffe is not a valid Unicode character"),
                // raw bytes that are not (modified) UTF-8
                strErr(bytes(0xC3, "("), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xC3), "invalid UTF-8 sequence in string"),
                strErr(bytes(0x80), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xC0, 0x81), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xE0, 0x80, 0x80), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xED, 0xA0, 0x80), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xF4, 0x90, 0x80, 0x80), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xF8, 0x88, 0x80, 0x80, 0x80), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xEF, 0xBF, 0xBE), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xEF, 0xB7, 0x90), "invalid UTF-8 sequence in string"),
                strErr(bytes(0xF0, 0x9F, 0xBF, 0xBE), "invalid UTF-8 sequence in string"));
    }

    /** The string content goes into {"a": "<content>"}. */
    private static Arguments strErr(byte[] content, String desc) {
        byte[] input = bytes("{\"a\": \"", content, "\"}");
        return Arguments.of(Named.of(new String(input, java.nio.charset.StandardCharsets.ISO_8859_1), input),
                PARSE + desc);
    }

    private static byte[] bytes(String prefix, byte[] middle, String suffix) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(utf8(prefix));
        out.writeBytes(middle);
        out.writeBytes(utf8(suffix));
        return out.toByteArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("stringErrors")
    void stringErrorTexts(byte[] input, String expected) {
        assertEquals(List.of(expected), describeAll(items(input)));
        assertEquals(List.of(expected), describeAll(items(input, JsonLimits.CLIENT_DEFAULT, false, input.length)),
                "the same error without building trees");
        // the same string as a key: {"a": "<s>"} becomes {"<s>": 1}
        byte[] content = Arrays.copyOfRange(input, 7, input.length - 2);
        assertEquals(List.of(expected), describeAll(items(bytes("{\"", content, "\": 1}"))), "in a key");
    }

    @Test
    void aVeryLongKeywordIsReportedTruncatedAsQemuDoes() {
        // QEMU formats parser errors into a 1024-byte buffer: 1023 characters after "JSON parse error, ".
        String word = "a".repeat(2000);
        List<String> got = describeAll(items(word + "\n"));
        String expected = "JSON parse error, " + ("invalid keyword '" + word + "'").substring(0, 1023);
        assertEquals(List.of("error " + expected), got);
        assertEquals(1041, expected.length());
    }

    @Test
    void aKeywordThatJustFitsIsNotTruncated() {
        String word = "b".repeat(1023 - "invalid keyword ''".length());
        assertEquals(List.of(PARSE + "invalid keyword '" + word + "'"), describeAll(items(word + "\n")));
    }

    // ---------------------------------------------------------------- lexical errors and recovery

    static Stream<Arguments> lexicalErrors() {
        return Stream.of(
                // qemu-facts §4: an unterminated string ends at the newline, the next line parses
                lex(bytes("{\"execute\": \"query-status\", \"id\": \"x\n{\"execute\": \"query-status\", \"id\": \"after\"}"),
                        PARSE + "stray '\"x\n'", "ok {\"execute\": \"query-status\", \"id\": \"after\"}"),
                // numbers that stop half-way
                lex(bytes("-\n"), PARSE + "stray '-\n'"),
                lex(bytes("1.\n"), PARSE + "stray '1.\n'"),
                lex(bytes("1e\n"), PARSE + "stray '1e\n'"),
                lex(bytes("1e+\n"), PARSE + "stray '1e+\n'"),
                lex(bytes("-01\n"), PARSE + "stray '-01'"),
                lex(bytes("00\n"), PARSE + "stray '00'"),
                lex(bytes("-x\n"), PARSE + "stray '-x'"),
                // bytes that start no token
                lex(bytes("TRUE\n"), PARSE + "stray 'T'"),
                lex(bytes("@\n"), PARSE + "stray '@'"),
                lex(bytes(1, "{\"execute\":\"x\"}"), PARSE + "stray '\u0001'", "ok {\"execute\":\"x\"}"),
                // a NUL ends QEMU's C string: the stray text stops before it
                lex(bytes(0, "\n"), PARSE + "stray ''"),
                lex(bytes("\"ab", 0, "cd\n"), PARSE + "stray '\"ab'"),
                // control characters (tab included) end a string with an error
                lex(bytes("\"ab\tcd\n"), PARSE + "stray '\"ab\t'"),
                lex(bytes("\"ab", 0x1F, "cd\n"), PARSE + "stray '\"ab\u001f'"),
                lex(bytes("\"\\", 1, "\""), PARSE + "stray '\"\\\u0001'"),
                // 0xFE and 0xFF are never part of a string; QEMU prints bad UTF-8 as U+FFFD
                lex(bytes("{\"a\": \"", 0xFF, "\"}"), PARSE + "stray '\"\uFFFD'", EXPECTING_VALUE),
                lex(bytes("\"\\", 0xFE, "\""), PARSE + "stray '\"\\\uFFFD'"),
                lex(bytes("1", 0xC3, 0xA9, "\n"), "ok 1", PARSE + "stray '\uFFFD'"),
                lex(bytes("hello", 0xC3, 0xA9, "\n"), PARSE + "invalid keyword 'hello'", PARSE + "stray '\uFFFD'"),
                // how QEMU renders the bytes of an unterminated string (one U+FFFD per bad sequence)
                lex(bytes("\"", 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0x7F, "\n"),
                        PARSE + "stray '\"\u00e9\uD83D\uDE00\u007f\n'"),
                lex(bytes("\"", 0xC0, 0x81, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xE0, 0x80, 0x80, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xED, 0xA0, 0x80, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xEF, 0xBF, 0xBE, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xEF, 0xB7, 0x90, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xF0, 0x9F, 0xBF, 0xBE, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xF4, 0x90, 0x80, 0x80, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xF8, 0x88, 0x80, 0x80, 0x80, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xC3, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xE2, 0x82, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0xF0, 0x9F, 0x98, "\n"), PARSE + "stray '\"\uFFFD\n'"),
                lex(bytes("\"", 0x80, 0x80, "\n"), PARSE + "stray '\"\uFFFD\uFFFD\n'"),
                // QEMU's modified UTF-8 for U+0000
                lex(bytes("\"", 0xC0, 0x80, "\n"), PARSE + "stray '\"\0\n'"));
    }

    private static Arguments lex(byte[] input, String... expected) {
        return Arguments.of(Named.of(new String(input, java.nio.charset.StandardCharsets.ISO_8859_1), input),
                List.of(expected));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lexicalErrors")
    void lexicalErrorTexts(byte[] input, List<String> expected) {
        assertEquals(expected, describeAll(items(input)));
        assertEquals(expected, describeAll(items(input, JsonLimits.CLIENT_DEFAULT, true, 1)), "fed byte by byte");
    }

    static Stream<Arguments> recovery() {
        String next = "{\"execute\":\"x\"}";
        return Stream.of(
                // a line end ends recovery
                lex(bytes("@ junk\n", next), PARSE + "stray '@'", "ok " + next),
                lex(bytes("@ junk\r", next), PARSE + "stray '@'", "ok " + next),
                // any other control byte ends it too, and is then a stray byte itself
                lex(bytes("@ junk", 1, next), PARSE + "stray '@'", PARSE + "stray '\u0001'", "ok " + next),
                // structural characters end recovery and are lexed afresh
                lex(bytes("@ junk", next), PARSE + "stray '@'", "ok " + next),
                lex(bytes("@junk[1]"), PARSE + "stray '@'", "ok [1]"),
                lex(bytes("@junk}"), PARSE + "stray '@'", EXPECTING_VALUE),
                lex(bytes("@junk]"), PARSE + "stray '@'", EXPECTING_VALUE),
                lex(bytes("@:1\n"), PARSE + "stray '@'", EXPECTING_VALUE, "ok 1"),
                lex(bytes("@,1\n"), PARSE + "stray '@'", EXPECTING_VALUE, "ok 1"),
                lex(bytes("@x\t:1\n"), PARSE + "stray '@'", EXPECTING_VALUE, "ok 1"),
                // a tab, a space, quotes and other printable bytes do not end it
                lex(bytes("@\t1\n"), PARSE + "stray '@'"),
                lex(bytes("@ 1\n"), PARSE + "stray '@'"),
                lex(bytes("@\"1\" 'x' true\n"), PARSE + "stray '@'"),
                lex(bytes("@", 0xC3, 0xA9, "1\n"), PARSE + "stray '@'"),
                // 0xFE ends recovery, and is itself a stray byte
                lex(bytes("@", 0xFE, "1\n"), PARSE + "stray '@'", PARSE + "stray '\uFFFD'"),
                // an error inside an object drops what came before it
                lex(bytes("{\"execute\": \"x\", \"id\": @1}\n", next),
                        PARSE + "stray '@'", EXPECTING_VALUE, "ok " + next));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("recovery")
    void recoveryAfterALexicalError(byte[] input, List<String> expected) {
        assertEquals(expected, describeAll(items(input)));
        assertEquals(expected, describeAll(items(input, JsonLimits.CLIENT_DEFAULT, true, 1)), "fed byte by byte");
    }

    /**
     * Issue 15, attack 5: an unfinished {@code [0,0,0,...} cost 13 times its size (a 12-byte token
     * entry per byte). Counted as bytes allocated by this thread while feeding, which includes every
     * copy made while the buffers grew.
     */
    @Test
    void unfinishedInputCostsAboutItsOwnSize() {
        int size = 1_000_000;
        byte[] input = new byte[size];
        input[0] = '[';
        for (int i = 1; i < size; i++) {
            input[i] = (byte) (i % 2 == 1 ? '0' : ',');
        }
        List<JsonStreamer.Item> items = new ArrayList<>();
        JsonStreamer streamer = new JsonStreamer(JsonLimits.CLIENT_DEFAULT, true, items::add);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int off = 0; off < size; off += 65536) {
            streamer.feed(input, off, Math.min(65536, size - off));
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(items.isEmpty() && !streamer.isIdle(), "the message is still unfinished");
        assertTrue(allocated < 3L * size, "feeding " + size + " bytes allocated " + allocated);
    }

    @Test
    void extraClosingBraceGivesTheValueThenAnError() {
        // qemu-facts §4: {"execute": "query-status", "id": "eb"}} is answered, then "expecting value"
        assertEquals(List.of("ok {\"execute\": \"query-status\", \"id\": \"eb\"}", EXPECTING_VALUE),
                describeAll(items("{\"execute\": \"query-status\", \"id\": \"eb\"}}\n")));
        assertEquals(List.of("ok []", EXPECTING_VALUE), describeAll(items("[]]")));
    }

    @Test
    void valueEndsWhenBracketsGoNegative() {
        // braces 1, brackets -1: parsed at once, and the parser finds the mismatch
        assertEquals(List.of(PARSE + "expected separator in dict", "ok {\"execute\": \"x\"}"),
                describeAll(items("{\"a\": 1 ]{\"execute\": \"x\"}")));
        assertEquals(List.of(EXPECTING_VALUE), describeAll(items("[}")));
    }

    // ---------------------------------------------------------------- limits

    @Test
    void idNested1100DeepGives1027ItemsAndTheNextCommandWorks() {
        String input = "{\"execute\":\"query-status\",\"id\": " + "[".repeat(1100) + "]".repeat(1100) + "}\n"
                + "{\"execute\":\"query-status\",\"id\":\"next\"}\n";
        List<JsonStreamer.Item> got = items(utf8(input));
        assertEquals(1028, got.size());
        List<String> described = describeAll(got);
        assertEquals("error JSON nesting depth limit exceeded", described.get(0));
        // 1 brace + 1023 brackets fit; the 1024th bracket fails; 76 brackets are left to balance
        assertEquals("ok " + "[".repeat(76) + "]".repeat(76), described.get(1));
        JsonMessage array = assertInstanceOf(JsonStreamer.Parsed.class, got.get(1)).message();
        assertFalse(array.isObject());
        for (int i = 2; i < 1027; i++) {
            assertEquals(EXPECTING_VALUE, described.get(i), "item " + i);
        }
        assertEquals("ok {\"execute\":\"query-status\",\"id\":\"next\"}", described.get(1027));
    }

    @Test
    void nestingAtTheDefaultLimitIsAccepted() {
        String ok = "{\"id\": " + "[".repeat(1023) + "]".repeat(1023) + "}";
        assertEquals(List.of("ok " + ok), describeAll(items(ok)));
        String over = "[".repeat(1025) + "]".repeat(1025);
        assertEquals("error JSON nesting depth limit exceeded", describeAll(items(over)).getFirst());
    }

    @Test
    void nestingLimitIsConfigurable() {
        JsonLimits three = new JsonLimits(1 << 20, 3);
        assertEquals(List.of("ok [[[1]]]", "ok {\"a\":[{\"b\":1}]}"),
                describeAll(items(utf8("[[[1]]]\n{\"a\":[{\"b\":1}]}"), three, true, 4096)));
        // the fourth level fails; counting restarts, so "1" is a value of its own and each ] an error
        assertEquals(List.of("error JSON nesting depth limit exceeded", "ok 1",
                        EXPECTING_VALUE, EXPECTING_VALUE, EXPECTING_VALUE, EXPECTING_VALUE, "ok {\"execute\":\"x\"}"),
                describeAll(items(utf8("[[[[1]]]]\n{\"execute\":\"x\"}"), three, true, 4096)));
        JsonLimits one = new JsonLimits(64, 1);
        assertEquals(List.of("ok [1]", "error JSON nesting depth limit exceeded", "ok {}", EXPECTING_VALUE,
                        EXPECTING_VALUE),
                describeAll(items(utf8("[1]{[{}]}"), one, true, 1)));
    }

    @Test
    void messageOverTheSizeLimitIsRejectedAndTheStreamGoesOn() {
        JsonLimits small = new JsonLimits(100, 1024);
        String big = "{\"execute\":\"query-status\",\"id\":\"" + "a".repeat(200) + "\"}";
        String next = "{\"execute\":\"query-status\",\"id\":\"next\"}";
        for (int chunk : new int[] {1, 7, 4096}) {
            List<String> got = describeAll(items(utf8(big + "\n" + next + "\n"), small, true, chunk));
            assertEquals("error JSON token size limit exceeded", got.getFirst(), "chunk " + chunk);
            assertEquals("ok " + next, got.getLast(), "chunk " + chunk);
            assertTrue(got.stream().noneMatch(s -> s.startsWith("ok ") && !s.equals("ok " + next)),
                    "nothing of the oversized message is taken for a value: " + got);
        }
    }

    @Test
    void sizeLimitCountsTheMessageFromItsFirstTokenToItsLast() {
        JsonLimits small = new JsonLimits(100, 1024);
        String prefix = "{\"execute\":\"x\",\"id\":\"";
        String exactly100 = prefix + "a".repeat(100 - prefix.length() - 2) + "\"}";
        assertEquals(100, exactly100.length());
        String padded = "\n".repeat(500) + exactly100 + " ".repeat(500);
        assertEquals(List.of("ok " + exactly100), describeAll(items(utf8(padded), small, true, 4096)));

        String exactly101 = prefix + "a".repeat(101 - prefix.length() - 2) + "\"}";
        assertEquals("error JSON token size limit exceeded",
                describeAll(items(utf8(exactly101), small, true, 4096)).getFirst());
    }

    @Test
    void sizeLimitIsPerMessage() {
        JsonLimits small = new JsonLimits(100, 1024);
        StringBuilder in = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            in.append("{\"execute\":\"query-status\",\"id\":").append(i).append("}\n");
        }
        List<String> got = describeAll(items(utf8(in.toString()), small, true, 4096));
        assertEquals(50, got.size());
        assertTrue(got.stream().allMatch(s -> s.startsWith("ok ")), got::toString);
    }

    @Test
    void limitsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new JsonLimits(63, 10));
        assertThrows(IllegalArgumentException.class, () -> new JsonLimits(64, 0));
        assertThrows(IllegalArgumentException.class, () -> new JsonLimits(64, JsonLimits.NESTING_CEILING + 1));
        assertEquals(1024, JsonLimits.CLIENT_DEFAULT.maxNesting());
        assertEquals(1024, JsonLimits.UPSTREAM.maxNesting());
    }

    // ---------------------------------------------------------------- trees, members and spans

    @Test
    void withoutTreesMembersAndSpansAreStillRecorded() {
        String input = "{\"execute\": \"query-status\", \"arguments\": {\"a\": [1, 2]}, \"id\": {\"x\": 1}}";
        JsonStreamer.Item item = items(utf8(input), JsonLimits.UPSTREAM, false, 4096).getFirst();
        JsonMessage m = assertInstanceOf(JsonStreamer.Parsed.class, item).message();
        assertNull(m.tree());
        assertTrue(m.isObject());
        assertEquals(List.of("execute", "arguments", "id"), m.members().stream().map(JsonMessage.Member::name).toList());
        assertEquals("\"query-status\"", value(m, "execute"));
        assertEquals("{\"a\": [1, 2]}", value(m, "arguments"));
        assertEquals("{\"x\": 1}", value(m, "id"));

        JsonMessage withTree = Streams.single(input);
        assertNotNull(withTree.tree());
        assertEquals(withTree.members(), m.members());
    }

    @Test
    void withoutTreesErrorsAreStillFound() {
        for (String bad : List.of("{\"a\": 1, \"a\": 2}", "{\"a\": {\"b\": 1, \"b\": 2}}", "{\"a\": nope}",
                "{\"a\": \"\\q\"}", "[1 2]")) {
            List<String> withTree = describeAll(items(bad));
            List<String> without = describeAll(items(utf8(bad), JsonLimits.UPSTREAM, false, 4096));
            assertEquals(withTree, without, bad);
            assertTrue(without.getFirst().startsWith("error "), bad);
        }
    }

    @Test
    void nonObjectsHaveNoMembers() {
        JsonMessage m = Streams.single("[{\"id\": 1}]");
        assertFalse(m.isObject());
        assertTrue(m.members().isEmpty());
        assertNull(m.member("id"));
    }

    @Test
    void onlyTopLevelMembersAreRecorded() {
        JsonMessage m = Streams.single("{\"return\": {\"id\": 1, \"x\": {\"id\": 2}}, \"id\": 3}");
        assertEquals(List.of("return", "id"), m.members().stream().map(JsonMessage.Member::name).toList());
        assertEquals("3", value(m, "id"));
    }

    @Test
    void memberNamesAreDecoded() {
        JsonMessage m = Streams.single("{'i\\u0064': 1, \"caf\u00e9\": 2, \"\\\"q\": 3}");
        assertEquals(List.of("id", "caf\u00e9", "\"q"), m.members().stream().map(JsonMessage.Member::name).toList());
        assertEquals("1", value(m, "id"));
    }

    static Stream<Arguments> idSpans() {
        return Stream.of(
                Arguments.of("{\"id\": 1, \"execute\": \"x\", \"arguments\": {}}", "1",
                        "{\"execute\": \"x\", \"arguments\": {}}"),
                Arguments.of("{\"execute\": \"x\", \"id\": [1, {\"a\": 2}], \"arguments\": {}}", "[1, {\"a\": 2}]",
                        "{\"execute\": \"x\", \"arguments\": {}}"),
                Arguments.of("{\"execute\": \"x\", \"arguments\": {}, \"id\": \"z\"}", "\"z\"",
                        "{\"execute\": \"x\", \"arguments\": {}}"),
                Arguments.of("{\"id\": null}", "null", "{}"),
                Arguments.of("{ \"id\" : { \"a\" : 1 } }", "{ \"a\" : 1 }", "{  }"),
                Arguments.of("{ \"id\" : 1 , \"execute\" : \"x\" }", "1", "{ \"execute\" : \"x\" }"),
                Arguments.of("{\"execute\":\"x\",\"id\":7}", "7", "{\"execute\":\"x\"}"),
                Arguments.of("{\"execute\":\"x\",\n  \"id\": -1.5e3\n}", "-1.5e3", "{\"execute\":\"x\"\n}"),
                Arguments.of("{'id': 'it\\'s', 'execute': 'x'}", "'it\\'s'", "{'execute': 'x'}"),
                Arguments.of("{\"return\": {}, \"id\": 7}", "7", "{\"return\": {}}"),
                Arguments.of("{\"id\": 7, \"error\": {\"class\": \"GenericError\", \"desc\": \"d\"}}", "7",
                        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"d\"}}"));
    }

    @ParameterizedTest
    @MethodSource("idSpans")
    void idValueAndCutSpans(String input, String idValue, String withoutId) {
        for (boolean buildTree : new boolean[] {true, false}) {
            JsonStreamer.Item item = items(utf8(input), JsonLimits.CLIENT_DEFAULT, buildTree, 4096).getFirst();
            JsonMessage m = assertInstanceOf(JsonStreamer.Parsed.class, item).message();
            JsonMessage.Member id = m.member("id");
            assertNotNull(id);
            assertEquals(idValue, value(m, "id"));
            assertEquals(withoutId, cut(m, id));
            JsonMessage rest = Streams.single(withoutId);
            assertTrue(rest.isObject());
            assertNull(rest.member("id"));
        }
    }

    static Stream<String> objects() {
        return Stream.of(
                "{\"a\": 1}",
                "{\"a\": 1, \"b\": [2], \"c\": {\"d\": 3}}",
                "{ \"a\" : 1 ,\n \"b\" :\t\"x, y\" , \"c\":null }",
                "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": \"a\"}",
                "{'x': '}', 'y': ']', 'z': ','}");
    }

    @ParameterizedTest
    @MethodSource("objects")
    void cuttingAnyMemberLeavesAValidObjectWithTheOtherMembers(String input) {
        JsonMessage m = Streams.single(input);
        List<String> names = m.members().stream().map(JsonMessage.Member::name).toList();
        for (JsonMessage.Member member : m.members()) {
            String rest = cut(m, member);
            JsonMessage parsed = Streams.single(rest);
            List<String> expectedNames = new ArrayList<>(names);
            expectedNames.remove(member.name());
            assertEquals(expectedNames, parsed.members().stream().map(JsonMessage.Member::name).toList(), rest);
            for (JsonMessage.Member other : parsed.members()) {
                assertEquals(value(m, other.name()), value(parsed, other.name()), rest);
            }
            assertTrue(member.cutStart() < member.valueStart() && member.valueEnd() <= member.cutEnd(),
                    "the cut covers the member's value: " + member);
        }
    }

    @Test
    void messageTextIsExactlyTheReceivedBytes() {
        byte[] input = bytes("  {\"id\": \"", 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, "\",\t'x': 1.50}\r\n");
        JsonMessage m = assertInstanceOf(JsonStreamer.Parsed.class, items(input).getFirst()).message();
        assertArrayEquals(Arrays.copyOfRange(input, 2, input.length - 2), m.text());
        assertArrayEquals(bytes("\"", 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, "\""), m.valueBytes(m.member("id")));
        assertEquals("\u00e9\uD83D\uDE00", m.tree().get("id").textValue());
    }

    // ---------------------------------------------------------------- state

    @Test
    void isIdleBetweenMessagesOnly() {
        List<JsonStreamer.Item> out = new ArrayList<>();
        JsonStreamer s = new JsonStreamer(JsonLimits.CLIENT_DEFAULT, true, out::add);
        assertTrue(s.isIdle());
        feed(s, "  \n");
        assertTrue(s.isIdle());
        feed(s, "{\"a\":");
        assertFalse(s.isIdle());
        feed(s, " 1}");
        assertTrue(s.isIdle());
        feed(s, "\"unterminated");
        assertFalse(s.isIdle());
        feed(s, "\n");
        assertTrue(s.isIdle(), "an error drops the partial message");
        feed(s, "\n@ skipped");
        assertTrue(s.isIdle(), "recovery holds nothing");
        assertEquals(List.of("ok {\"a\": 1}", PARSE + "stray '\"unterminated\n'", PARSE + "stray '@'"),
                describeAll(out));
    }

    @Test
    void bigMessagesInterleavedWithSmallOnes() {
        // many messages through one streamer, including big ones that grow its buffers
        List<JsonStreamer.Item> out = new ArrayList<>();
        JsonStreamer s = new JsonStreamer(JsonLimits.CLIENT_DEFAULT, true, out::add);
        String big = "{\"execute\":\"x\",\"arguments\":{\"l\":[" + "1,".repeat(5000) + "1]}}";
        for (int i = 0; i < 20; i++) {
            feed(s, big);
            feed(s, "{\"execute\":\"y\",\"id\":" + i + "}");
        }
        assertEquals(40, out.size());
        for (int i = 0; i < 40; i += 2) {
            assertEquals("ok " + big, Streams.describe(out.get(i)));
            assertEquals("ok {\"execute\":\"y\",\"id\":" + (i / 2) + "}", Streams.describe(out.get(i + 1)));
        }
    }

    private static void feed(JsonStreamer s, String text) {
        byte[] b = utf8(text);
        s.feed(b, 0, b.length);
    }

    private static String value(JsonMessage m, String name) {
        return new String(m.valueBytes(m.member(name)), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String cut(JsonMessage m, JsonMessage.Member member) {
        byte[] t = m.text();
        byte[] out = new byte[t.length - (member.cutEnd() - member.cutStart())];
        System.arraycopy(t, 0, out, 0, member.cutStart());
        System.arraycopy(t, member.cutEnd(), out, member.cutStart(), t.length - member.cutEnd());
        return new String(out, java.nio.charset.StandardCharsets.UTF_8);
    }
}
