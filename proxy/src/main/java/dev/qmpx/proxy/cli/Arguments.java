package dev.qmpx.proxy.cli;

import java.util.List;

/** A cursor over command-line words, with the checks every role needs. */
final class Arguments {
    private final List<String> words;
    private int next;

    Arguments(String[] args) {
        this.words = List.of(args);
    }

    boolean hasNext() {
        return next < words.size();
    }

    String next() {
        return words.get(next++);
    }

    String value(String option) throws UsageException {
        if (!hasNext()) {
            throw new UsageException(option + " needs a value");
        }
        return next();
    }

    int intValue(String option, int min, int max) throws UsageException {
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

    long longValue(String option, long min) throws UsageException {
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
}
