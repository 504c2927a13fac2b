package dev.qmpx.shell;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ArgumentTreeTest {
    private static String tree(String... words) throws ShellSyntaxException {
        return ArgumentTree.of(List.of(words)).toString();
    }

    private static String error(String... words) {
        return assertThrows(ShellSyntaxException.class, () -> ArgumentTree.of(List.of(words))).getMessage();
    }

    private static JsonNode value(String text) throws ShellSyntaxException {
        return ArgumentTree.value("k", text);
    }

    @Test
    void valuesThatAreJsonAreJson() throws ShellSyntaxException {
        assertEquals(42, value("42").intValue());
        assertEquals("-1.5", value("-1.5").toString());
        assertEquals(true, value("true").booleanValue());
        assertEquals(false, value("false").booleanValue());
        assertEquals(true, value("null").isNull());
        assertEquals("x y", value("\"x y\"").textValue());
        assertEquals("x y", value("'x y'").textValue());
        assertEquals("[1,\"a\"]", value("[1, 'a']").toString());
        assertEquals("{\"a\":{\"b\":null}}", value("{'a': {\"b\": null}}").toString());
        // Nothing QEMU reads as an exact decimal or a large integer is rounded on the way.
        assertEquals("0.1000000000000000000001", value("0.1000000000000000000001").toString());
        assertEquals("18446744073709551615", value("18446744073709551615").toString());
    }

    @Test
    void otherValuesAreStrings() throws ShellSyntaxException {
        for (String text : List.of("abc", "/dev/fdset/1", "01", "1.2.3", "True", "NaN", "-", "a]", "10M", "b=c")) {
            JsonNode node = value(text);
            assertEquals(text, node.textValue(), text);
        }
        assertEquals("", value("").textValue());
    }

    @Test
    void valuesThatStartLikeJsonMustBeJson() {
        for (String text : List.of("{bad}", "[1,", "\"open", "'a'b", "[1] [2]")) {
            assertThrows(ShellSyntaxException.class, () -> value(text), text);
        }
        assertEquals("bad JSON in the value of 'k': Unexpected character ('b' (code 98)): was expecting double-quote to start field name",
                assertThrows(ShellSyntaxException.class, () -> value("{bad}")).getMessage());
    }

    @Test
    void dottedKeysBuildNestedObjects() throws ShellSyntaxException {
        assertEquals("{\"driver\":\"raw\",\"file\":{\"driver\":\"null-co\",\"opts\":{\"size\":1024}},\"node-name\":\"r0\"}",
                tree("driver=raw", "file.driver=null-co", "file.opts.size=1024", "node-name=r0"));
        assertEquals("{\"a\":{\"b\":1}}", tree("a.b=1"));
        assertEquals("{}", tree());
    }

    @Test
    void aKeyGivenTwiceIsAnError() {
        assertEquals("'a' is given twice", error("a=1", "a=2"));
        assertEquals("'a.b' is given twice", error("a.b=1", "a.b=2"));
    }

    @Test
    void aKeyCannotBeBothAValueAndAnObject() {
        assertEquals("'a' is given both as a value and as an object", error("a=1", "a.b=2"));
        assertEquals("'a' is given both as a value and as an object", error("a.b=1", "a=2"));
        assertEquals("'a.b' is given both as a value and as an object", error("a.b=1", "a.b.c=2"));
        // An object given as JSON is whole: merging a dotted key into it would hide a repeated key.
        assertEquals("'a' is given both as a value and as an object", error("a={\"b\": 1}", "a.c=2"));
    }

    @Test
    void wordsMustBeKeyEqualsValueWithProperKeys() {
        assertEquals("expected key=value, got 'path'", error("path"));
        assertEquals("bad key '' in '=1'", error("=1"));
        assertEquals("bad key 'a..b' in 'a..b=1'", error("a..b=1"));
        assertEquals("bad key 'a.' in 'a.=1'", error("a.=1"));
    }
}
