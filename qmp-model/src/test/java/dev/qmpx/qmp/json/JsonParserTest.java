package dev.qmpx.qmp.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.math.BigInteger;
import java.util.List;
import java.util.stream.Stream;

import static dev.qmpx.qmp.json.JsonStreamerTest.bytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The values {@link JsonParser} builds, as QEMU's parser would hold them (through the streamer). */
class JsonParserTest {

    private static JsonNode tree(String json) {
        return Streams.single(json + "\n").tree();
    }

    private static JsonNode tree(byte[] json) {
        List<JsonStreamer.Item> items = Streams.items(json);
        assertEquals(1, items.size(), Streams.describeAll(items)::toString);
        return assertInstanceOf(JsonStreamer.Parsed.class, items.getFirst()).message().tree();
    }

    @Test
    void integersAreLongThenUnsigned64ThenDouble() {
        assertEquals(42L, tree("42").longValue());
        assertTrue(tree("42").canConvertToLong());
        assertEquals(0L, tree("-0").longValue());
        assertTrue(tree("-0").isIntegralNumber());
        assertEquals(Long.MIN_VALUE, tree("-9223372036854775808").longValue());
        assertEquals(Long.MAX_VALUE, tree("9223372036854775807").longValue());
        // above int64: QEMU keeps it as uint64
        assertEquals(new BigInteger("9223372036854775808"), tree("9223372036854775808").bigIntegerValue());
        assertTrue(tree("9223372036854775808").isIntegralNumber());
        assertEquals(new BigInteger("18446744073709551615"), tree("18446744073709551615").bigIntegerValue());
        assertEquals(new BigInteger("12345678901234567890"), tree("12345678901234567890").bigIntegerValue());
        // beyond uint64, or below int64: a double
        assertTrue(tree("18446744073709551616").isDouble());
        assertEquals(1.8446744073709552E19, tree("18446744073709551616").doubleValue());
        assertTrue(tree("-9223372036854775809").isDouble());
        assertEquals(1.2345678901234568e29, tree("123456789012345678901234567890").doubleValue());
    }

    @Test
    void integersLongerThanAny64BitOneAreParsedInLinearTime() {
        assertEquals(-1.8446744073709552E19, tree("-18446744073709551616").doubleValue(), "21 characters with the sign");
        assertEquals(1e20, tree("100000000000000000000").doubleValue(), "21 digits");
        String digits = "7".repeat(1_000_000);
        long start = System.nanoTime();
        JsonNode huge = Streams.items(bytes("{\"id\": " + digits + "}"), new JsonLimits(2 << 20, 1024), true, 65536)
                .stream().map(item -> assertInstanceOf(JsonStreamer.Parsed.class, item).message().tree()).findFirst().orElseThrow();
        long millis = (System.nanoTime() - start) / 1_000_000;
        // QEMU's strtod gives inf; BigInteger took 17 s here for the same text (quadratic).
        assertEquals(Double.POSITIVE_INFINITY, huge.path("id").doubleValue());
        assertTrue(millis < 3000, "a 1 MB integer took " + millis + " ms");
    }

    @Test
    void floats() {
        assertTrue(tree("1.5").isDouble());
        assertEquals(1.5, tree("1.5").doubleValue());
        assertEquals(0.1, tree("0.1").doubleValue());
        assertTrue(tree("1e3").isDouble());
        assertEquals(1000.0, tree("1e3").doubleValue());
        assertEquals(-1500.0, tree("-1.5E+3").doubleValue());
        assertEquals(0.02, tree("2e-2").doubleValue());
        assertEquals(Double.POSITIVE_INFINITY, tree("1e400").doubleValue(), "strtod gives inf, no error");
    }

    @Test
    void keywords() {
        assertTrue(tree("true").booleanValue());
        assertTrue(tree("false").isBoolean());
        assertTrue(tree("null").isNull());
    }

    static Stream<Arguments> strings() {
        return Stream.of(
                Arguments.of(bytes("\"plain\""), "plain"),
                Arguments.of(bytes("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), "\"\\/\b\f\n\r\t"),
                Arguments.of(bytes("'single'"), "single"),
                Arguments.of(bytes("'it\\'s \"quoted\"'"), "it's \"quoted\""),
                Arguments.of(bytes("\"\\'\""), "'"),
                Arguments.of(bytes("\"\\u00e9\\ud83d\\ude00\\u0041\""), "\u00e9\uD83D\uDE00A"),
                Arguments.of(bytes("\"\\u00E9\""), "\u00e9"),
                Arguments.of(bytes("\"\\u0000\""), "\0"),
                Arguments.of(bytes("\"", 0xC0, 0x80, "\""), "\0"),
                Arguments.of(bytes("\"", 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0x7F, "\""), "\u00e9\uD83D\uDE00\u007f"),
                Arguments.of(bytes("\"", 0xEF, 0xBF, 0xBD, "\""), "\uFFFD"),
                Arguments.of(bytes("\"", 0xF4, 0x8F, 0xBF, 0xBD, "\""), new String(Character.toChars(0x10FFFD))),
                Arguments.of(bytes("\"\\uFDCF\\uFDF0\\uFFFD\""), "\uFDCF\uFDF0\uFFFD"));
    }

    @ParameterizedTest
    @MethodSource("strings")
    void stringsDecode(byte[] json, String expected) {
        assertEquals(expected, tree(json).textValue());
    }

    @Test
    void nestedValuesAndMemberOrder() throws Exception {
        JsonNode t = tree("{'b': [1, 2.5, \"x\", {\"c\": null}], \"a\": {}, \"z\": [], \"m\": true}");
        JsonNode expected = new ObjectMapper().readTree(
                "{\"b\": [1, 2.5, \"x\", {\"c\": null}], \"a\": {}, \"z\": [], \"m\": true}");
        // numbers compared by value: the parser makes 1 a long where Jackson makes it an int
        assertTrue(expected.equals((a, b) -> a.isNumber() && b.isNumber()
                ? Double.compare(a.doubleValue(), b.doubleValue()) : a.equals(b) ? 0 : 1, t), t::toString);
        assertEquals(List.of("b", "a", "z", "m"), t.properties().stream().map(e -> e.getKey()).toList());
    }
}
