package dev.qmpx.shell;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MessageViewTest {
    private static final MessageView PRETTY = new MessageView(false, ZoneOffset.UTC);
    private static final MessageView RAW = new MessageView(true, ZoneOffset.UTC);
    private static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7},"
            + " \"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}";

    private static JsonNode json(String line) throws Exception {
        return ShellJson.MAPPER.readTree(line);
    }

    @Test
    void theGreetingIsAVersionLine() throws Exception {
        assertEquals("Connected to QEMU 7.2.22 (Debian 1:7.2+dfsg-7) at /run/vm1.sock",
                PRETTY.greeting(GREETING, json(GREETING), Path.of("/run/vm1.sock")));
        String bare = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 9}, \"package\": \"\"}}}";
        assertEquals("Connected to QEMU 9.0.0 at s", PRETTY.greeting(bare, json(bare), Path.of("s")));
    }

    @Test
    void aReplyShowsItsReturnValuePretty() throws Exception {
        String line = "{\"return\": {\"status\": \"running\", \"running\": true, \"list\": [1, {}], \"empty\": []}, \"id\": 2}";
        assertEquals("""
                {
                  "status": "running",
                  "running": true,
                  "list": [
                    1,
                    {}
                  ],
                  "empty": []
                }""", PRETTY.reply(line, json(line)));
        assertEquals("{}", PRETTY.reply("{\"return\": {}, \"id\": 3}", json("{\"return\": {}, \"id\": 3}")));
    }

    @Test
    void anErrorShowsItsClassAndDescription() throws Exception {
        String line = "{\"id\": 5, \"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device '/nope' not found\"}}";
        assertEquals("error: DeviceNotFound: Device '/nope' not found", PRETTY.reply(line, json(line)));
    }

    @Test
    void anEventShowsItsTimeNameAndData() throws Exception {
        String stop = "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 42}, \"event\": \"STOP\"}";
        assertEquals("[2023-11-14 22:13:20.000042] event STOP", PRETTY.event(stop, json(stop)));
        String shutdown = "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 999999}, \"event\": \"SHUTDOWN\","
                + " \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}";
        assertEquals("""
                [2023-11-14 22:13:20.999999] event SHUTDOWN {
                  "guest": false,
                  "reason": "host-qmp-quit"
                }""", PRETTY.event(shutdown, json(shutdown)));
    }

    @Test
    void rawShowsTheLinesUnchanged() throws Exception {
        String reply = "{\"return\": {}, \"id\": 3}";
        String event = "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}";
        assertEquals(GREETING, RAW.greeting(GREETING, json(GREETING), Path.of("s")));
        assertEquals(reply, RAW.reply(reply, json(reply)));
        assertEquals(event, RAW.event(event, json(event)));
    }
}
