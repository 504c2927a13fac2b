package dev.qmpx.bench;

import java.util.Arrays;

/**
 * Measured durations in nanoseconds, sorted once. Percentiles use the nearest-rank definition (the
 * smallest sample with at least p % of the samples at or below it), so every figure reported is a
 * time that was actually measured, never an interpolation.
 */
public record Distribution(long[] sortedNanos) {

    public Distribution {
        if (sortedNanos.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
    }

    /** Sorts a copy: the caller may keep filling its array. */
    public static Distribution of(long[] nanos, int count) {
        long[] copy = Arrays.copyOf(nanos, count);
        Arrays.sort(copy);
        return new Distribution(copy);
    }

    public static Distribution of(long[] nanos) {
        return of(nanos, nanos.length);
    }

    public int count() {
        return sortedNanos.length;
    }

    /** @param percent 0 (exclusive) to 100 */
    public long percentile(double percent) {
        if (!(percent > 0 && percent <= 100)) {
            throw new IllegalArgumentException("percentile out of (0, 100]: " + percent);
        }
        int rank = (int) Math.ceil(percent / 100.0 * sortedNanos.length);
        return sortedNanos[Math.max(rank, 1) - 1];
    }

    public long median() {
        return percentile(50);
    }

    public long min() {
        return sortedNanos[0];
    }

    public long max() {
        return sortedNanos[sortedNanos.length - 1];
    }

    /** Fraction of samples at or below nanos, for a CDF. */
    public double fractionAtOrBelow(long nanos) {
        int i = Arrays.binarySearch(sortedNanos, nanos);
        if (i < 0) {
            return (double) (-i - 1) / sortedNanos.length;
        }
        while (i + 1 < sortedNanos.length && sortedNanos[i + 1] == nanos) {
            i++;
        }
        return (double) (i + 1) / sortedNanos.length;
    }
}
