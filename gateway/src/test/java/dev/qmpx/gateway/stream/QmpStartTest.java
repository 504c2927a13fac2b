package dev.qmpx.gateway.stream;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class QmpStartTest {
    private static QmpStart of(String text) {
        return QmpStart.of(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    }

    @Test
    void aJsonObjectAfterOptionalWhitespaceIsQmp() {
        assertEquals(QmpStart.QMP, of("{\"execute\": \"qmp_capabilities\"}"));
        assertEquals(QmpStart.QMP, of(" \r\n\t {"));
    }

    @Test
    void whitespaceAloneWaitsForMore() {
        assertEquals(QmpStart.UNDECIDED, of(""));
        assertEquals(QmpStart.UNDECIDED, of("\r\n  "));
    }

    @Test
    void anythingElseIsRefusedWhateverProtocolItIs() {
        for (String start : new String[] {"POST / HTTP/1.1", "GET /", "OPTIONS * HTTP/1.1", "PRI * HTTP/2.0",
                "X-ANY-TOKEN /x HTTP/1.1", "\u0016\u0003\u0001\u0002\u0000\u0001", "[{}]", "\"qmp_capabilities\"", "\u00ef\u00bb\u00bf{",
                "\u0000{", "  G"}) {
            assertEquals(QmpStart.NOT_QMP, of(start), start);
        }
    }

    @Test
    void theLoggedExcerptIsPrintableAndShort() {
        assertEquals("\\x16\\x03\\x01 POST", QmpStart.excerpt(Unpooled.copiedBuffer("\u0016\u0003\u0001 POST",
                StandardCharsets.ISO_8859_1)));
        assertEquals("POST / HTTP/1.1\\x0d", QmpStart.excerpt(Unpooled.copiedBuffer("POST / HTTP/1.1\r\nHost: x",
                StandardCharsets.ISO_8859_1)));
    }
}
