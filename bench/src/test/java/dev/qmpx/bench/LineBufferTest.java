package dev.qmpx.bench;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class LineBufferTest {
    private static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void splitsQemuLinesAndKeepsAnUnfinishedOne() {
        LineBuffer lines = new LineBuffer();
        lines.feed(bytes("{\"return\": {}}\r\n{\"timestamp\": 1, \"ev"));
        assertEquals("{\"return\": {}}", lines.poll());
        assertNull(lines.poll());
        lines.feed(bytes("ent\": \"STOP\"}\r\nplain\n"));
        assertEquals("{\"timestamp\": 1, \"event\": \"STOP\"}", lines.poll());
        assertEquals("plain", lines.poll());
        assertNull(lines.poll());
        assertEquals(0, lines.pending());
    }

    @Test
    void growsForALineLongerThanItsBufferAndSurvivesManyFeeds() {
        LineBuffer lines = new LineBuffer();
        String longLine = "x".repeat(10_000);
        for (int i = 0; i < 10_000; i += 7) {
            lines.feed(bytes(longLine.substring(i, Math.min(i + 7, 10_000))));
            assertNull(lines.poll());
        }
        lines.feed(bytes("\r\n"));
        assertEquals(longLine, lines.poll());
        for (int i = 0; i < 5000; i++) {
            lines.feed(bytes("line " + i + "\r\n"));
            assertEquals("line " + i, lines.poll());
        }
    }
}
