package dev.qmpx.qmp.message;

import dev.qmpx.qmp.json.JsonStreamer;
import dev.qmpx.qmp.json.Streams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU 7.2's checks of a parsed request (qapi/qmp-dispatch.c), with its texts (qemu-facts §4). */
class QmpRequestsTest {

    static ClientInput read(String input, boolean oob) {
        List<JsonStreamer.Item> items = Streams.items(input);
        assertEquals(1, items.size(), () -> Streams.describeAll(items).toString());
        return QmpRequests.read(items.getFirst(), oob);
    }

    static String str(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static Stream<Arguments> rejected() {
        return Stream.of(
                // qemu-facts §4, verbatim
                Arguments.of("{\"arguments\": {}}", null, "QMP input lacks member 'execute'"),
                Arguments.of("{}", null, "QMP input lacks member 'execute'"),
                Arguments.of("{\"id\": 5}", "5", "QMP input lacks member 'execute'"),
                Arguments.of("{\"execute\": 42}", null, "QMP input member 'execute' must be a string"),
                Arguments.of("{\"execute\": \"query-status\", \"arguments\": [1]}", null,
                        "QMP input member 'arguments' must be an object"),
                Arguments.of("{\"execute\": \"query-status\", \"foo\": 1}", null, "QMP input member 'foo' is unexpected"),
                Arguments.of("[1, 2]", null, "QMP input must be a JSON object"),
                Arguments.of("42\n", null, "QMP input must be a JSON object"),
                Arguments.of("\"query-status\"", null, "QMP input must be a JSON object"),
                Arguments.of("{\"exec-oob\": \"query-status\", \"id\": 1}", "1",
                        "QMP input member 'exec-oob' is unexpected"),
                Arguments.of("{\"execute\": \"query-status\", \"exec-oob\": \"query-status\"}", null,
                        "QMP input member 'exec-oob' is unexpected"),
                // more, each observed on QEMU 7.2
                Arguments.of("{\"execute\": null}", null, "QMP input member 'execute' must be a string"),
                Arguments.of("{\"execute\": \"query-status\", \"arguments\": null}", null,
                        "QMP input member 'arguments' must be an object"),
                Arguments.of("{\"execute\": \"query-status\", \"arguments\": {}, \"foo\": 1}", null,
                        "QMP input member 'foo' is unexpected"),
                Arguments.of("{\"execute\": \"a\", \"caf\u00e9\": 1}", null, "QMP input member 'caf\u00e9' is unexpected"),
                Arguments.of("{\"id\": [1, \"x\"], \"execute\": \"q\", \"foo\": 1}", "[1, \"x\"]",
                        "QMP input member 'foo' is unexpected"),
                // an id over several lines comes back on one (found by JsonDifferentialFuzzIT)
                Arguments.of("{\"id\": [3,\r\n \"x\",\n\t4], \"execute\": \"q\", \"foo\": 1}", "[3, \"x\",\t4]",
                        "QMP input member 'foo' is unexpected"));
    }

    @ParameterizedTest
    @MethodSource("rejected")
    void rejectedWithQemusText(String input, String rawId, String desc) {
        RejectedInput r = assertInstanceOf(RejectedInput.class, read(input, false));
        assertEquals(new QmpError(ErrorClass.GenericError, desc), r.error());
        assertEquals(rawId, str(r.rawId()));
    }

    @Test
    void streamerFailuresBecomeRejectionsWithoutId() {
        ClientInput in = QmpRequests.read(new JsonStreamer.Failed("JSON parse error, expecting value"), true);
        RejectedInput r = assertInstanceOf(RejectedInput.class, in);
        assertNull(r.rawId());
        assertEquals(QmpError.generic("JSON parse error, expecting value"), r.error());
    }

    @Test
    void theWholeFactsTableFromOneStream() {
        // qemu-facts §4, the malformed-input rows, fed as one stream
        String in = "{\"execute\": }\n{\"execute\": \"query-status\"]\nhello\n"
                + "{\"execute\": \"query-status\", \"id\": \"x\n{\"execute\": \"query-status\", \"id\": \"eb\"}}\n]\n";
        List<String> got = Streams.items(in).stream().map(i -> QmpRequests.read(i, false)).map(c -> switch (c) {
            case ClientCommand cmd -> "command " + cmd.name() + " id " + str(cmd.rawId());
            case RejectedInput r -> r.error().desc();
        }).toList();
        assertEquals(List.of(
                "JSON parse error, expecting value",
                "JSON parse error, expected separator in dict",
                "JSON parse error, invalid keyword 'hello'",
                "JSON parse error, stray '\"x\n'",
                "command query-status id \"eb\"",
                "JSON parse error, expecting value",
                "JSON parse error, expecting value"), got);
    }

    // ---------------------------------------------------------------- which error when there are several

    static Stream<Arguments> severalErrors() {
        // QEMU checks members in its QDict's order (hash buckets), not in the order sent;
        // every expectation here was observed on QEMU 7.2.
        return Stream.of(
                Arguments.of("{\"execute\": 42, \"foo\": 1}", false, "QMP input member 'execute' must be a string"),
                Arguments.of("{\"foo\": 1, \"execute\": 42}", false, "QMP input member 'execute' must be a string"),
                Arguments.of("{\"arguments\": 1, \"foo\": 1}", false, "QMP input member 'arguments' must be an object"),
                Arguments.of("{\"foo\": 1, \"arguments\": 1}", false, "QMP input member 'arguments' must be an object"),
                Arguments.of("{\"foo\": 1, \"bar\": 2, \"execute\": \"x\"}", false, "QMP input member 'bar' is unexpected"),
                // same bucket: the member added last is visited first
                Arguments.of("{\"execute\": \"x\", \"p\": 1, \"ac\": 2}", false, "QMP input member 'ac' is unexpected"),
                Arguments.of("{\"execute\": \"x\", \"ac\": 1, \"p\": 2}", false, "QMP input member 'p' is unexpected"),
                // with OOB negotiated
                Arguments.of("{\"execute\": \"x\", \"exec-oob\": \"y\"}", true,
                        "QMP input member 'execute' clashes with 'exec-oob'"),
                Arguments.of("{\"exec-oob\": \"x\", \"execute\": \"y\"}", true,
                        "QMP input member 'execute' clashes with 'exec-oob'"),
                Arguments.of("{\"exec-oob\": 1, \"execute\": 2}", true, "QMP input member 'exec-oob' must be a string"),
                Arguments.of("{\"id\": 1, \"execute\": \"x\", \"exec-oob\": 3}", false,
                        "QMP input member 'exec-oob' is unexpected"));
    }

    @ParameterizedTest
    @MethodSource("severalErrors")
    void theFirstErrorInQemusMemberOrderIsReported(String input, boolean oob, String desc) {
        RejectedInput r = assertInstanceOf(RejectedInput.class, read(input, oob));
        assertEquals(desc, r.error().desc());
    }

    @Test
    void qdictBucketsAreQemusTdbHash() {
        // the order QEMU prints its own dicts in follows these buckets
        assertTrue(QmpRequests.qdictBucket("return") < QmpRequests.qdictBucket("id"));
        assertTrue(QmpRequests.qdictBucket("id") < QmpRequests.qdictBucket("error"));
        assertTrue(QmpRequests.qdictBucket("class") < QmpRequests.qdictBucket("desc"));
        assertTrue(QmpRequests.qdictBucket("timestamp") < QmpRequests.qdictBucket("event"));
        assertTrue(QmpRequests.qdictBucket("event") < QmpRequests.qdictBucket("data"));
        assertEquals(299, QmpRequests.qdictBucket("execute"));
        assertEquals(162, QmpRequests.qdictBucket("exec-oob"));
        assertEquals(447, QmpRequests.qdictBucket("arguments"));
        assertEquals(486, QmpRequests.qdictBucket("id"));
        assertEquals(QmpRequests.qdictBucket("p"), QmpRequests.qdictBucket("ac"));
    }

    // ---------------------------------------------------------------- commands

    @Test
    void commandWithArgumentsAndId() {
        String input = "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"fd1\"}, \"id\": \"a1\"}";
        ClientCommand c = assertInstanceOf(ClientCommand.class, read(input, false));
        assertEquals("getfd", c.name());
        assertFalse(c.outOfBand());
        assertEquals("fd1", c.arguments().get("fdname").textValue());
        assertEquals(1, c.arguments().size());
        assertEquals("\"a1\"", str(c.rawId()));
        assertEquals(input, Streams.text(c.message()));
    }

    @Test
    void commandWithoutArgumentsOrId() {
        ClientCommand c = assertInstanceOf(ClientCommand.class, read("{\"execute\": \"query-status\"}", false));
        assertEquals("query-status", c.name());
        assertTrue(c.arguments().isEmpty());
        assertNull(c.rawId());
    }

    @Test
    void idMayComeFirstAndSingleQuotesAreAccepted() {
        ClientCommand c = assertInstanceOf(ClientCommand.class,
                read("{'id': 7, 'execute': 'query-status', 'arguments': {'a': 'b'}}", false));
        assertEquals("query-status", c.name());
        assertEquals("7", str(c.rawId()));
        assertEquals("b", c.arguments().get("a").textValue());
    }

    @Test
    void execOobIsACommandOnceOobIsNegotiated() {
        ClientCommand c = assertInstanceOf(ClientCommand.class,
                read("{\"exec-oob\": \"query-yank\", \"id\": \"y1\"}", true));
        assertEquals("query-yank", c.name());
        assertTrue(c.outOfBand());
        assertEquals("\"y1\"", str(c.rawId()));
        // OOB commands without an id are accepted (qemu-facts §5)
        ClientCommand noId = assertInstanceOf(ClientCommand.class, read("{\"exec-oob\": \"yank\"}", true));
        assertNull(noId.rawId());
        // and execute stays in-band with OOB negotiated
        assertFalse(assertInstanceOf(ClientCommand.class, read("{\"execute\": \"x\"}", true)).outOfBand());
    }

    static Stream<Arguments> ids() {
        return Stream.of(
                Arguments.of("1", "1"),
                Arguments.of("-0", "-0"),
                Arguments.of("1.50", "1.50"),
                Arguments.of("1e2", "1e2"),
                Arguments.of("3.14159265358979323846264338327950288", "3.14159265358979323846264338327950288"),
                Arguments.of("123456789012345678901234567890", "123456789012345678901234567890"),
                Arguments.of("\"caf\\u00e9\\\"\"", "\"caf\\u00e9\\\"\""),
                Arguments.of("\"\u00e9\uD83D\uDE00\"", "\"\u00e9\uD83D\uDE00\""),
                Arguments.of("null", "null"),
                Arguments.of("true", "true"),
                Arguments.of("{\"a\": [1, {\"b\": 2.50}]}", "{\"a\": [1, {\"b\": 2.50}]}"),
                // line breaks go (an answer is one line), other whitespace stays
                Arguments.of("{ \"a\" :\n[ 1 ,\t{} ] }", "{ \"a\" :[ 1 ,\t{} ] }"),
                Arguments.of("[]", "[]"),
                // single-quoted strings are echoed double-quoted, as QEMU prints them
                Arguments.of("'abc'", "\"abc\""),
                Arguments.of("'it\\'s'", "\"it's\""),
                Arguments.of("['x', \"y\"]", "[\"x\", \"y\"]"));
    }

    @ParameterizedTest
    @MethodSource("ids")
    void rawIdIsTheIdAsSent(String id, String expected) {
        for (String input : List.of("{\"execute\": \"query-status\", \"id\": " + id + "}",
                "{\"id\": " + id + ", \"execute\": \"query-status\"}",
                "{\"id\":" + id + ",\"execute\":\"query-status\",\"arguments\":{}}")) {
            ClientCommand c = assertInstanceOf(ClientCommand.class, read(input, false), input);
            assertEquals(expected, str(c.rawId()), input);
        }
        // a rejected command keeps its id too
        RejectedInput r = assertInstanceOf(RejectedInput.class, read("{\"id\": " + id + ", \"foo\": 1}", false));
        assertEquals(expected, str(r.rawId()));
    }

    @Test
    void commandKeepsTheReceivedMessage() {
        List<JsonStreamer.Item> items = Streams.items("{\"execute\": \"x\", \"id\": 1}");
        JsonStreamer.Parsed parsed = (JsonStreamer.Parsed) items.getFirst();
        ClientCommand c = assertInstanceOf(ClientCommand.class, QmpRequests.read(parsed, false));
        assertSame(parsed.message(), c.message());
        assertArrayEquals("1".getBytes(StandardCharsets.US_ASCII), c.rawId());
    }
}
