package dev.qmpx.broker.cli;

import java.util.List;

/** A cursor over command-line words, with the checks every role needs. */
public final class Arguments {
    private final List<String> words;
    private int next;

    public Arguments(String[] args) {
        this.words = List.of(args);
    }

    public boolean hasNext() {
        return next < words.size();
    }

    public String next() {
        return words.get(next++);
    }

    public String value(String option) throws UsageException {
        if (!hasNext()) {
            throw new UsageException(option + " needs a value");
        }
        return next();
    }

    public int intValue(String option, int min, int max) throws UsageException {
        String text = value(option);
        try {
            int v = Integer.parseInt(text);
            if (v < min || v > max) {
                throw new UsageException(option + " must be between " + min + " and " + max + ", got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException(option + " needs a whole number, got '" + text + "'");
        }
    }

    public long longValue(String option, long min) throws UsageException {
        String text = value(option);
        try {
            long v = Long.parseLong(text);
            if (v < min) {
                throw new UsageException(option + " must be at least " + min + ", got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException(option + " needs a whole number, got '" + text + "'");
        }
    }

    /** A duration given in seconds (decimals allowed, e.g. 0.5), as milliseconds. */
    public long secondsAsMillis(String option) throws UsageException {
        String text = value(option);
        try {
            double seconds = Double.parseDouble(text);
            if (!(seconds > 0) || seconds > 86_400 * 365) {
                throw new UsageException(option + " must be a positive number of seconds, got " + text);
            }
            return Math.max(1, Math.round(seconds * 1000));
        } catch (NumberFormatException e) {
            throw new UsageException(option + " needs a number of seconds, got '" + text + "'");
        }
    }
}
