package dev.qmpx.broker.cli;

/** Bad command-line input: the message says what and how to fix it; exit status 2. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }

    /** What every role's parser says about a word that looks like an option and is none of its own. */
    public static UsageException unknownOption(String option, String role) {
        return new UsageException("unknown option '" + option + "' (see qmpx " + role + " --help)");
    }
}
