package dev.qmpx.qmp.message;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The compact form of a client's command that the proxy sends QEMU. */
class UpstreamEncodingTest {

    static ClientCommand command(String input, boolean oob) {
        List<JsonStreamer.Item> items = Streams.items(input);
        assertEquals(1, items.size(), () -> Streams.describeAll(items).toString());
        return assertInstanceOf(ClientCommand.class, QmpRequests.read(items.getFirst(), oob));
    }

    static String s(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static Stream<Arguments> prefixes() {
        return Stream.of(
                // id last, middle, first, absent
                Arguments.of("{\"execute\": \"query-status\", \"id\": 5}", "{\"execute\":\"query-status\""),
                Arguments.of("{\"execute\": \"getfd\", \"id\": \"a\", \"arguments\": {\"fdname\": \"f\"}}",
                        "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f\"}"),
                Arguments.of("{\"id\": {\"x\": [1, 2]}, \"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}",
                        "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f\"}"),
                Arguments.of("{\"execute\": \"query-status\"}", "{\"execute\":\"query-status\""),
                // all four kinds of insignificant whitespace go
                Arguments.of("{ \"execute\" :\t\"query-status\" ,\r\n \"id\" : 5 \n}", "{\"execute\":\"query-status\""),
                Arguments.of("\n{\n  \"execute\": \"block-commit\",\n  \"arguments\": {\n    \"device\": \"d0\",\n"
                                + "    \"speed\": 0\n  }\n}\n",
                        "{\"execute\":\"block-commit\",\"arguments\":{\"device\":\"d0\",\"speed\":0}"),
                // whitespace inside strings stays, escapes stay as sent
                Arguments.of("{\"execute\": \"x\", \"arguments\": {\"s\": \"a  b , c : { } \\\" \\\\\\\" d \\n\"}}",
                        "{\"execute\":\"x\",\"arguments\":{\"s\":\"a  b , c : { } \\\" \\\\\\\" d \\n\"}"),
                Arguments.of("{\"execute\": \"x\", \"arguments\": {\"caf\u00e9 \\u00e9\": \"\uD83D\uDE00 \"}}",
                        "{\"execute\":\"x\",\"arguments\":{\"caf\u00e9 \\u00e9\":\"\uD83D\uDE00 \"}"),
                // single-quoted strings stay single-quoted, with what they contain
                Arguments.of("{'execute': 'x', 'arguments': {'s': 'it\\'s \"q\" , x'}, 'id': 'z z'}",
                        "{'execute':'x','arguments':{'s':'it\\'s \"q\" , x'}"),
                Arguments.of("{\"execute\": \"x\", \"arguments\": {\"s\": \"don't \\\"stop\\\" here\"}}",
                        "{\"execute\":\"x\",\"arguments\":{\"s\":\"don't \\\"stop\\\" here\"}"),
                // numbers stay as sent
                Arguments.of("{\"execute\": \"x\", \"arguments\": {\"n\": [1.50, -0, 1e2, 12345678901234567890123]}}",
                        "{\"execute\":\"x\",\"arguments\":{\"n\":[1.50,-0,1e2,12345678901234567890123]}"),
                // ... unless longer than any 64-bit integer: then as the shortest text of the double
                // QEMU makes of them (glibc's strtod took QEMU more than 10 s over a 1 MB integer)
                Arguments.of("{\"execute\": \"x\", \"arguments\": {\"n\": [" + "9".repeat(400)
                                + ", -123456789012345678901234567890, 0.1000000000000000000000000000001, 123456789012345678901234]}}",
                        "{\"execute\":\"x\",\"arguments\":{\"n\":[1e999,-1.2345678901234568E29,0.1,123456789012345678901234]}"));
    }

    @ParameterizedTest
    @MethodSource("prefixes")
    void prefixIsTheCommandWithoutIdWhitespaceOrClosingBrace(String input, String expected) {
        assertEquals(expected, s(UpstreamEncoding.prefix(command(input, false))));
    }

    @ParameterizedTest
    @MethodSource("prefixes")
    void withIdGivesACommandQemuParsesToTheSameValue(String input, String ignored) {
        ClientCommand original = command(input, false);
        byte[] full = UpstreamEncoding.withId(UpstreamEncoding.prefix(original), "4242");
        assertTrue(s(full).endsWith(",\"id\":4242}"), s(full));

        List<JsonStreamer.Item> items = Streams.items(full);
        assertEquals(1, items.size());
        JsonMessage sent = assertInstanceOf(JsonStreamer.Parsed.class, items.getFirst()).message();
        ObjectNode expected = ((ObjectNode) original.message().tree()).deepCopy();
        expected.remove("id");
        expected.put("id", 4242L);
        assertEquals(expected, sent.tree());
        // and QEMU would accept it as a command
        ClientCommand reread = assertInstanceOf(ClientCommand.class, QmpRequests.read(items.getFirst(), false));
        assertEquals(original.name(), reread.name());
        assertEquals("4242", s(reread.rawId()));
    }

    @Test
    void withIdAppendsTheProxysId() {
        assertEquals("{\"execute\":\"query-status\",\"id\":17}",
                s(UpstreamEncoding.withId("{\"execute\":\"query-status\"".getBytes(StandardCharsets.US_ASCII), "17")));
        assertEquals("{\"execute\":\"x\",\"id\":\"p-3\"}",
                s(UpstreamEncoding.withId("{\"execute\":\"x\"".getBytes(StandardCharsets.US_ASCII), "\"p-3\"")));
    }

    @Test
    void withoutIdClosesTheCommandAsTheClientWroteIt() {
        ClientCommand command = command("{ \"execute\" : \"query-status\" }", false);
        assertEquals("{\"execute\":\"query-status\"}", s(UpstreamEncoding.withoutId(UpstreamEncoding.prefix(command))));
    }

    @Test
    void execOobIsSentAsExecute() {
        ClientCommand oob = command("{\"exec-oob\": \"migrate-pause\", \"id\": \"o1\"}", true);
        assertEquals("{\"execute\":\"migrate-pause\"", s(UpstreamEncoding.prefix(oob)));

        ClientCommand yank = command(
                "{ \"exec-oob\" : \"yank\", \"arguments\": {\"instances\": [{\"type\": \"chardev\", \"id\": \"c\"}]}, \"id\": 1}",
                true);
        String prefix = s(UpstreamEncoding.prefix(yank));
        assertEquals("{\"execute\":\"yank\",\"arguments\":{\"instances\":[{\"type\":\"chardev\",\"id\":\"c\"}]}", prefix);
        JsonNode sent = Streams.single(prefix + ",\"id\":2}").tree();
        assertEquals("yank", sent.get("execute").textValue());
        assertTrue(sent.get("exec-oob") == null);
    }

    @Test
    void proxyBuiltCommands() {
        assertEquals("{\"execute\":\"query-status\"", s(UpstreamEncoding.prefix("query-status", null)));
        assertEquals("{\"execute\":\"query-status\"",
                s(UpstreamEncoding.prefix("query-status", JsonNodeFactory.instance.objectNode())));
        ObjectNode args = JsonNodeFactory.instance.objectNode().put("fdname", "f1").put("n", 3);
        assertEquals("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f1\",\"n\":3}",
                s(UpstreamEncoding.prefix("getfd", args)));
        byte[] full = UpstreamEncoding.withId(UpstreamEncoding.prefix("getfd", args), "1");
        assertEquals("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f1\",\"n\":3},\"id\":1}", s(full));
        assertInstanceOf(ClientCommand.class, QmpRequests.read(Streams.items(full).getFirst(), false));
    }
}
