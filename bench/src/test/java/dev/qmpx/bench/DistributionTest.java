package dev.qmpx.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DistributionTest {
    /** 1..100 in shuffled order: the nearest-rank p-th percentile is p itself. */
    private static final Distribution HUNDRED = Distribution.of(shuffled(100));

    private static long[] shuffled(int n) {
        long[] values = new long[n];
        for (int i = 0; i < n; i++) {
            values[i] = (i * 37L) % n + 1;
        }
        return values;
    }

    @ParameterizedTest
    @CsvSource({"50, 50", "90, 90", "99, 99", "99.9, 100", "100, 100", "0.5, 1", "1, 1", "1.01, 2"})
    void nearestRank(double percent, long expected) {
        assertEquals(expected, HUNDRED.percentile(percent));
    }

    @Test
    void medianOfAnEvenCountIsTheLowerMiddleSample() {
        assertEquals(2, Distribution.of(new long[] {4, 1, 3, 2}).median());
        assertEquals(3, Distribution.of(new long[] {5, 1, 3, 2, 4}).median());
    }

    @Test
    void onlyTheCountedPrefixIsUsedAndTheCallersArrayIsNotSorted() {
        long[] samples = {9, 3, 7, 1000, 1000};
        Distribution d = Distribution.of(samples, 3);
        assertEquals(3, d.count());
        assertEquals(3, d.min());
        assertEquals(9, d.max());
        assertEquals(9, samples[0]);
    }

    @Test
    void fractionAtOrBelowCountsTies() {
        Distribution d = Distribution.of(new long[] {10, 20, 20, 30});
        assertEquals(0.0, d.fractionAtOrBelow(5));
        assertEquals(0.25, d.fractionAtOrBelow(10));
        assertEquals(0.25, d.fractionAtOrBelow(15));
        assertEquals(0.75, d.fractionAtOrBelow(20));
        assertEquals(1.0, d.fractionAtOrBelow(31));
    }

    @Test
    void refusesNoSamplesAndPercentilesOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> Distribution.of(new long[0]));
        assertThrows(IllegalArgumentException.class, () -> HUNDRED.percentile(0));
        assertThrows(IllegalArgumentException.class, () -> HUNDRED.percentile(100.5));
    }
}
