package dev.qmpx.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TextTableTest {
    private final TextTable table = new TextTable.Builder("Latency (µs)", "path", "median", "p99")
            .row("direct", "55.4", "66.0")
            .row("proxy", "61.2", "101.3")
            .build();

    @Test
    void plainTextLeftAlignsTheFirstColumnAndRightAlignsNumbers() {
        assertEquals("""
                Latency (µs)
                path    median    p99
                ---------------------
                direct    55.4   66.0
                proxy     61.2  101.3
                """, table.plain());
    }

    @Test
    void markdownHasARuleWithRightAlignedNumberColumnsAndEscapesPipes() {
        TextTable piped = new TextTable.Builder("T", "a", "b").row("x|y", "1").build();
        assertEquals("""
                **T**

                | a | b |
                |---|---:|
                | x\\|y | 1 |
                """, piped.markdown());
    }

    @Test
    void refusesARowOfTheWrongWidth() {
        assertThrows(IllegalArgumentException.class, () -> new TextTable.Builder("T", "a", "b").row("only one").build());
    }
}
