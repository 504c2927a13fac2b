package dev.qmpx.bench;

import java.util.Locale;

/** How figures are written in the tables: fixed, locale-independent formats. */
public final class Format {
    private Format() {
    }

    /** Nanoseconds as microseconds, one decimal: 55400 → "55.4". */
    public static String micros(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1000.0);
    }

    /** Nanoseconds as milliseconds, two decimals: 1234567 → "1.23". */
    public static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.2f", nanos / 1e6);
    }

    /** A rate, rounded, with thousands separated by commas: 17876.4 → "17,876". */
    public static String rate(double perSecond) {
        return String.format(Locale.ROOT, "%,d", Math.round(perSecond));
    }

    public static String ratio(double value) {
        return String.format(Locale.ROOT, "%.2f", value);
    }

    public static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.1f %%", fraction * 100);
    }

    /** Kibibytes as mebibytes, one decimal. */
    public static String mebibytes(long kib) {
        return String.format(Locale.ROOT, "%.1f", kib / 1024.0);
    }

    public static String kibibytes(double kib) {
        return String.format(Locale.ROOT, "%.1f", kib);
    }
}
