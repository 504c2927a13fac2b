package dev.qmpx.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyBenchTest {
    @Test
    void theQomGetCommandIsThreeHundredBytesAndItsIdIsAValidQomId() {
        assertEquals(300, LatencyBench.COMMANDS.get(2).bytes());
        // QEMU's id_wellformed: a letter first, then letters, digits, '-', '.', '_'.
        assertTrue(LatencyBench.SECRET_ID.matches("[A-Za-z][A-Za-z0-9._-]*"), LatencyBench.SECRET_ID);
        assertEquals(LatencyBench.secretIdFor(300), LatencyBench.SECRET_ID);
        assertEquals(LatencyBench.SECRET_ID.length() + 50, LatencyBench.secretIdFor(350).length());
    }
}
