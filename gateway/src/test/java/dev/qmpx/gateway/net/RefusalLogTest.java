package dev.qmpx.gateway.net;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class RefusalLogTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void aFloodGetsItsQuotaOfLinesASecondThenTheNextLineCountsWhatWasLeftOut() {
        RefusalLog log = new RefusalLog();
        long start = System.nanoTime();
        for (int i = 0; i < RefusalLog.PER_SECOND; i++) {
            assertEquals("refused " + i, log.admit("refused " + i, start));
        }
        for (int i = 0; i < 1000; i++) {
            assertNull(log.admit("refused", start + SECOND / 2));
        }
        assertEquals("refused (1000 more refusals not logged)", log.admit("refused", start + SECOND));
        assertEquals("refused", log.admit("refused", start + SECOND + 1));
    }
}
