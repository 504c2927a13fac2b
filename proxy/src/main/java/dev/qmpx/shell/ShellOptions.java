package dev.qmpx.shell;

import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What {@code qmpx shell} was asked to do.
 *
 * @param history where JLine keeps the history of an interactive session; empty with --no-history
 */
record ShellOptions(Path socket, boolean raw, Optional<Path> log, Optional<Path> history) {
    static final Path DEFAULT_HISTORY = Path.of(System.getProperty("user.home"), ".qmpx_shell_history");

    static ShellOptions parse(String[] args) throws UsageException {
        Arguments words = new Arguments(args);
        Path socket = null;
        boolean raw = false;
        Optional<Path> log = Optional.empty();
        Optional<Path> history = Optional.of(DEFAULT_HISTORY);
        while (words.hasNext()) {
            String word = words.next();
            switch (word) {
                case "-p", "--pretty" -> raw = false;
                case "--raw" -> raw = true;
                case "-l", "--log" -> log = Optional.of(Path.of(words.value(word)));
                case "--history" -> history = Optional.of(Path.of(words.value(word)));
                case "--no-history" -> history = Optional.empty();
                default -> {
                    if (word.startsWith("-")) {
                        throw UsageException.unknownOption(word, "shell");
                    }
                    if (socket != null) {
                        throw new UsageException("one SOCKET only, got '" + socket + "' and '" + word + "'");
                    }
                    socket = Path.of(word);
                }
            }
        }
        if (socket == null) {
            throw new UsageException("SOCKET is required (see qmpx shell --help)");
        }
        return new ShellOptions(socket, raw, log, history);
    }
}
