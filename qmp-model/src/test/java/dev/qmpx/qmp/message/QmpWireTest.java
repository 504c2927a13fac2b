package dev.qmpx.qmp.message;

import dev.qmpx.qmp.json.JsonLimits;
import dev.qmpx.qmp.json.JsonMessage;
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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Lines in QEMU's output format (qemu-facts §3, §4). */
class QmpWireTest {

    private static final String STATUS = "{\"status\": \"running\", \"singlestep\": false, \"running\": true}";

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    /** QEMU's output, as the proxy reads it: no trees, members only. */
    static JsonMessage upstream(String line) {
        List<JsonStreamer.Item> items = Streams.items(b(line), JsonLimits.UPSTREAM, false, 4096);
        assertEquals(1, items.size());
        return assertInstanceOf(JsonStreamer.Parsed.class, items.getFirst()).message();
    }

    // ---------------------------------------------------------------- errorLine / returnLine / line

    @Test
    void errorLineWithoutId() {
        // qemu-facts §4: {"execute": } is answered with exactly this line
        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}\r\n",
                s(QmpWire.errorLine(null, QmpError.generic("JSON parse error, expecting value"))));
    }

    @Test
    void errorLineWithIdPutsTheIdFirst() {
        assertEquals("{\"id\": 7, \"error\": {\"class\": \"CommandNotFound\", "
                        + "\"desc\": \"The command no-such-command has not been found\"}}\r\n",
                s(QmpWire.errorLine(b("7"), new QmpError(ErrorClass.CommandNotFound,
                        "The command no-such-command has not been found"))));
        assertEquals("{\"id\": \"pre-1\", \"error\": {\"class\": \"CommandNotFound\", "
                        + "\"desc\": \"Expecting capabilities negotiation with 'qmp_capabilities'\"}}\r\n",
                s(QmpWire.errorLine(b("\"pre-1\""), new QmpError(ErrorClass.CommandNotFound,
                        "Expecting capabilities negotiation with 'qmp_capabilities'"))));
    }

    @Test
    void errorDescIsQuotedAsQemuQuotesIt() {
        // qemu-facts §4: the unterminated-string line
        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"x\\n'\"}}\r\n",
                s(QmpWire.errorLine(null, QmpError.generic("JSON parse error, stray '\"x\n'"))));
        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'caf\\u00E9' is unexpected\"}}\r\n",
                s(QmpWire.errorLine(null, QmpError.generic("QMP input member 'caf\u00e9' is unexpected"))));
    }

    @Test
    void errorLineSplicesTheRawIdByteForByte() {
        byte[] id = b("{ \"a\" : [\"\u00e9\"] }");
        assertArrayEquals(b("{\"id\": { \"a\" : [\"\u00e9\"] }, \"error\": {\"class\": \"GenericError\", \"desc\": \"d\"}}\r\n"),
                QmpWire.errorLine(id, QmpError.generic("d")));
    }

    @Test
    void returnLines() {
        assertEquals("{\"return\": {}}\r\n", s(QmpWire.returnLine(null, "{}")));
        assertEquals("{\"return\": {}, \"id\": 7}\r\n", s(QmpWire.returnLine(b("7"), "{}")));
        assertEquals("{\"return\": " + STATUS + ", \"id\": \"a\"}\r\n", s(QmpWire.returnLine(b("\"a\""), STATUS)));
        assertEquals("{\"return\": [], \"id\": null}\r\n", s(QmpWire.returnLine(b("null"), "[]")));
    }

    @Test
    void lineIsTheMessageBytesThenCrLf() {
        String greeting = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
                + "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}";
        assertEquals(greeting + "\r\n", s(QmpWire.line(upstream(greeting + "\r\n"))));
        String event = "{\"timestamp\": {\"seconds\": 1795394549, \"microseconds\": 462755}, \"event\": \"STOP\"}";
        assertEquals(event + "\r\n", s(QmpWire.line(upstream(event))));
    }

    // ---------------------------------------------------------------- replyLine

    static Stream<String> trickyIds() {
        return Stream.of(
                "7",
                "-0",
                "1.50",
                "1e2",
                "3.14159265358979323846264338327950288",
                "123456789012345678901234567890",
                "0.1",
                "\"caf\\u00e9\\\"\"",
                "\"a\\\"b\\\\c\\n/\"",
                "{\"a\": [1, {\"b\": 2.50}]}",
                "{ \"a\" : [ 1 ,\t{} ] }",
                "\"\u00e9\uD83D\uDE00\"",
                "null",
                "true",
                "[1, \"x\"]",
                "\"\"");
    }

    static Stream<Arguments> trickyIdsAndReplyShapes() {
        return trickyIds().flatMap(id -> Stream.of(
                Arguments.of(id, "{\"return\": " + STATUS + ", \"id\": 12}", "{\"return\": " + STATUS + ", \"id\": %s}"),
                Arguments.of(id, "{\"return\": {}, \"id\": 7}", "{\"return\": {}, \"id\": %s}"),
                Arguments.of(id, "{\"id\": 7, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}}",
                        "{\"id\": %s, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}}")));
    }

    @ParameterizedTest
    @MethodSource("trickyIdsAndReplyShapes")
    void clientIdRoundTripsByteExactThroughReplyLine(String id, String reply, String expectedFormat) {
        String request = "{\"execute\": \"query-status\", \"id\": " + id + "}";
        ClientCommand cmd = assertInstanceOf(ClientCommand.class,
                QmpRequests.read(Streams.items(b(request)).getFirst(), false));
        assertArrayEquals(b(id), cmd.rawId());

        JsonMessage fromQemu = upstream(reply);
        byte[] line = QmpWire.replyLine(fromQemu, fromQemu.member("id"), cmd.rawId());
        assertArrayEquals(b(expectedFormat.formatted(id) + "\r\n"), line);

        // what the client receives parses, and its id member is the id it sent
        JsonMessage back = upstream(s(line));
        assertArrayEquals(b(id), back.valueBytes(back.member("id")));
    }

    @Test
    void idIsRemovedWhenTheClientSentNone() {
        ClientCommand cmd = assertInstanceOf(ClientCommand.class,
                QmpRequests.read(Streams.items("{\"execute\": \"query-status\"}").getFirst(), false));
        assertNull(cmd.rawId());

        JsonMessage ret = upstream("{\"return\": " + STATUS + ", \"id\": 12}");
        assertEquals("{\"return\": " + STATUS + "}\r\n", s(QmpWire.replyLine(ret, ret.member("id"), cmd.rawId())));

        JsonMessage empty = upstream("{\"return\": {}, \"id\": 7}");
        assertEquals("{\"return\": {}}\r\n", s(QmpWire.replyLine(empty, empty.member("id"), null)));

        JsonMessage err = upstream("{\"id\": 7, \"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'fdname' is missing\"}}");
        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'fdname' is missing\"}}\r\n",
                s(QmpWire.replyLine(err, err.member("id"), null)));
    }

    @Test
    void replyLineWithoutIdIsWhatQemuSendsAClientThatSentNoId() {
        // the same text QEMU sends directly (qemu-facts §4) comes out of the proxy's rewrite
        JsonMessage err = upstream("{\"id\": 3, \"error\": {\"class\": \"CommandNotFound\", "
                + "\"desc\": \"The command no-such-command has not been found\"}}");
        assertArrayEquals(QmpWire.errorLine(null, new QmpError(ErrorClass.CommandNotFound,
                        "The command no-such-command has not been found")),
                QmpWire.replyLine(err, err.member("id"), null));
        JsonMessage ret = upstream("{\"return\": {}, \"id\": 3}");
        assertArrayEquals(QmpWire.returnLine(null, "{}"), QmpWire.replyLine(ret, ret.member("id"), null));
    }

    @Test
    void aReplyToACommandSentWithoutIdIsPassedOnUnchanged() {
        JsonMessage err = upstream("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'fdname' is missing\"}}");
        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'fdname' is missing\"}}\r\n",
                s(QmpWire.replyLine(err, null, null)));
        assertThrows(IllegalArgumentException.class, () -> QmpWire.replyLine(err, null, b("7")));
    }

    @Test
    void replyLineMatchesReturnAndErrorLinesForTheSameId() {
        byte[] id = b("{\"a\": [1, {\"b\": 2.50}]}");
        JsonMessage ret = upstream("{\"return\": {}, \"id\": 99}");
        assertArrayEquals(QmpWire.returnLine(id, "{}"), QmpWire.replyLine(ret, ret.member("id"), id));
        JsonMessage err = upstream("{\"id\": 99, \"error\": {\"class\": \"GenericError\", \"desc\": \"d\"}}");
        assertArrayEquals(QmpWire.errorLine(id, QmpError.generic("d")), QmpWire.replyLine(err, err.member("id"), id));
    }

    @Test
    void replyLineKeepsEverythingElseByteForByte() {
        String reply = "{\"return\": [{\"type\": \"chardev\", \"id\": \"compat_monitor0\"}], \"id\": 5}";
        JsonMessage m = upstream(reply);
        assertEquals("{\"return\": [{\"type\": \"chardev\", \"id\": \"compat_monitor0\"}], \"id\": \"y1\"}\r\n",
                s(QmpWire.replyLine(m, m.member("id"), b("\"y1\""))));
        assertEquals("{\"return\": [{\"type\": \"chardev\", \"id\": \"compat_monitor0\"}]}\r\n",
                s(QmpWire.replyLine(m, m.member("id"), null)));
    }
}
