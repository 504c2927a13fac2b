package dev.qmpx.shell;

import org.jline.reader.Candidate;
import org.jline.reader.Completer;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.ParsedLine;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;

/**
 * An interactive terminal through JLine: line editing, history, Tab completion of command names, and
 * output printed above the prompt ({@link LineReader#printAbove}, which JLine serialises with its own
 * lock and which redraws the line being typed), so that events appear while the user types.
 */
final class TerminalConsole implements ShellConsole {
    private final Terminal terminal;
    private final LineReader reader;
    private final CommandNames names;

    private TerminalConsole(Terminal terminal, LineReader reader, CommandNames names) {
        this.terminal = terminal;
        this.reader = reader;
        this.names = names;
    }

    /**
     * Opens the terminal for the calling thread, which reads the lines. Ctrl-C interrupts that
     * thread: JLine's own handler does so while a line is read, this one while a reply is awaited.
     */
    static TerminalConsole open(Optional<Path> history) throws IOException {
        Terminal terminal = TerminalBuilder.builder().system(true).build();
        Thread reading = Thread.currentThread();
        terminal.handle(Terminal.Signal.INT, signal -> reading.interrupt());
        CommandNames names = new CommandNames();
        LineReaderBuilder builder = LineReaderBuilder.builder()
                .terminal(terminal)
                .appName("qmpx shell")
                .completer(names)
                // '!' is history expansion in JLine, as in bash; here it is only ever part of a value.
                .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true);
        history.ifPresent(file -> builder.variable(LineReader.HISTORY_FILE, file));
        return new TerminalConsole(terminal, builder.build(), names);
    }

    /** Command names for Tab completion of a line's first word. */
    void completeCommands(List<String> commands) {
        names.commands = List.copyOf(commands);
    }

    @Override
    public String readLine(String prompt) {
        try {
            return reader.readLine(prompt);
        } catch (UserInterruptException e) {
            // JLine turns Ctrl-C into an interrupt of this thread, so both end up here.
            throw new CancellationException("line cancelled");
        } catch (EndOfFileException e) {
            return null;
        }
    }

    @Override
    public void show(String text) {
        reader.printAbove(text);
    }

    @Override
    public void complain(String text) {
        reader.printAbove("qmpx shell: " + text);
    }

    @Override
    public void close() throws IOException {
        terminal.close();
    }

    /** Set once after negotiation and read by JLine's completion, both on the thread that reads lines. */
    private static final class CommandNames implements Completer {
        private List<String> commands = List.of();

        @Override
        public void complete(LineReader reader, ParsedLine line, List<Candidate> candidates) {
            if (line.wordIndex() == 0) {
                commands.forEach(name -> candidates.add(new Candidate(name)));
            }
        }
    }
}
