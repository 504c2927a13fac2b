package dev.qmpx.qmp.json;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** One JSON value in a string, as qobject_from_json reads it (the json: file names of the block layer). */
class JsonTextTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void decodesQemusSpellings() throws Exception {
        assertEquals(JSON.readTree("{\"filename\": \"/dev/fdset/0\"}"),
                JsonText.parse(" {'file\\u006eame' :\t\"\\/dev\\u002Ffdset\\/\\u0030\"}\n"));
        assertEquals(12L, JsonText.parse("12").longValue());
        assertEquals(JSON.readTree("\"a\\u0000b\""), JsonText.parse("\"a\\u0000b\""));
    }

    @Test
    void rejectsWhatQemuRejects() {
        assertNull(JsonText.parse(""));
        assertNull(JsonText.parse("{\"a\": 1"));
        assertNull(JsonText.parse("{\"a\": 1} {}"));
        assertNull(JsonText.parse("{\"a\": 1, \"a\": 2}"));
        assertNull(JsonText.parse("{\"a\": \"\\x\"}"));
        assertNull(JsonText.parse("{\"a\": \"\\ud800\"}"));
        assertNull(JsonText.parse("{\"a\" 1}"));
    }
}
