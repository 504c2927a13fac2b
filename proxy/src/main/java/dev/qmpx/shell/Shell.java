package dev.qmpx.shell;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.cli.UsageException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * {@code qmpx shell SOCKET}: an interactive QMP shell in the spirit of QEMU's qmp-shell.
 *
 * <p>Threads (all platform threads):
 * <ul>
 * <li>main: reads the user's lines ({@link ShellConsole#readLine}, JLine's line editor when stdin is
 *     a terminal), parses them ({@link LineParser} and the failure count are its own), writes each
 *     command to the socket and waits for its reply before reading the next line.</li>
 * <li>{@code qmp-reader} ({@link QmpSession}): reads the socket and shows events and replies in
 *     arrival order, so an event is shown as it comes, also while the user types; then completes
 *     the waiting command's future. When the connection goes it interrupts main, and so does
 *     Ctrl-C on a terminal ({@link TerminalConsole}); {@link QmpSession#lost} tells them apart.</li>
 * <li>{@code shell-stdin} (piped input only, {@link PipedConsole}): blocking reads of stdin.</li>
 * </ul>
 * Shared: the console's output (JLine's lock, or {@link PipedConsole}'s monitor), the session's
 * queue of waiting commands and its {@code lost} mark, the {@link SessionLog} (its monitor).
 */
public final class Shell {
    public static final String HELP = """
            NAME
                qmpx shell - an interactive QMP shell, in the spirit of QEMU's qmp-shell

            SYNOPSIS
                qmpx shell [-p | --raw] [-l FILE] [--history FILE | --no-history] SOCKET

            DESCRIPTION
                Connects to the QMP unix socket SOCKET (a qmpx proxy's --listen socket,
                or QEMU's own -qmp monitor), shows QEMU's version, negotiates
                capabilities, then runs the commands given one a line, one at a time,
                and shows each reply. Events are shown as they arrive, with their
                timestamp, also while a line is being typed.

                A line is a command and its arguments:  COMMAND [KEY=VALUE]...
                A VALUE that is valid JSON is taken as JSON: numbers, true, false, null,
                "strings" or 'strings', [arrays] and {objects} (these may contain
                spaces); anything else is a string. A VALUE starting with {, [, " or '
                must be valid JSON. Dotted keys build nested objects: file.driver=null-co
                gives {"file": {"driver": "null-co"}}. A key given twice is an error.
                A line starting with { is sent as it is: one JSON object (single quotes
                allowed).
                transaction( ACTION [KEY=VALUE]... [; ACTION [KEY=VALUE]...]... ) sends
                one transaction; its actions may also follow "transaction(" one a line
                (prompt TRANS>) until a line ")". The words "transaction(", ";" and ")"
                stand apart.
                The shell adds an id of its own to each command that has none. A line
                it cannot parse gets an error, and nothing is sent.

                A reply shows as its return value in pretty JSON, an error as
                "error: CLASS: DESC", an event as "[DATE TIME.MICROSECONDS] event NAME
                DATA" (local time). The shell's own commands (qmp_capabilities,
                query-commands) are not shown. Nothing bounds how long a command may
                take.

                Stdin a terminal: line editing, history, Tab completes command names
                (from query-commands), Ctrl-C drops the line being typed (and a
                transaction being collected), Ctrl-D ends the shell. Ctrl-C while a
                command runs stops waiting for its reply (the command still runs; its
                reply is shown when it comes).
                Stdin a pipe or file: reads lines to the end; replies and events go to
                stdout, the shell's own messages (bad lines, a lost connection) to
                stderr; no prompt.
                Either way the shell ends once QEMU has accepted a quit.

            OPTIONS
                -p, --pretty    Show replies and events as above (the default).
                --raw           Show QEMU's lines unchanged: greeting, replies, events.
                -l, --log FILE  Append the session to FILE: every line sent ("-> LINE")
                                and received ("<- LINE") as raw JSON, after a
                                "# qmpx shell TIME SOCKET" line.
                --history FILE  Keep the history of interactive sessions in FILE
                                (default ~/.qmpx_shell_history).
                --no-history    Keep no history file.
                -h, --help      Show this text.

            ENVIRONMENT
                HOME            Where the default history file is.

            FILES
                ~/.qmpx_shell_history
                                The history of interactive sessions (--history).

            EXIT STATUS
                0   Every command succeeded.
                1   A command got an error or a line could not be parsed (the shell goes
                    on with the next line), or the connection could not be made or was
                    lost, or the log could not be written.
                2   Bad options.

            EXAMPLES
                qmpx shell /run/qmpx/vm1.sock
                    (QEMU) query-status
                    (QEMU) qom-list path=/machine
                    (QEMU) blockdev-add driver=raw node-name=disk1 file.driver=null-co
                    (QEMU) transaction( block-dirty-bitmap-add node=disk1 name=b0 ;
                    TRANS> block-dirty-bitmap-add node=disk1 name=b1 )
                    (QEMU) {"execute": "query-name", "id": "mine"}
                printf 'stop\\ncont\\n' | qmpx shell -l session.log /run/qmpx/vm1.sock
                qmpx shell --raw /run/vm1/qmp.sock < commands.txt

            SEE ALSO
                qmpx proxy --help; QEMU's scripts/qmp/qmp-shell.
            """;

    private final QmpSession session;
    private final ShellConsole console;
    private final LineParser parser = new LineParser();

    private Shell(QmpSession session, ShellConsole console) {
        this.session = session;
        this.console = console;
    }

    public static int run(String[] args) throws UsageException, IOException {
        ShellOptions options = ShellOptions.parse(args);
        MessageView view = new MessageView(options.raw(), ZoneId.systemDefault());
        try (SessionLog log = SessionLog.open(options.log(), options.socket());
             QmpSession session = QmpSession.connect(options.socket(), log);
             ShellConsole console = openConsole(options)) {
            console.show(view.greeting(session.greetingLine(), session.greeting(), options.socket()));
            session.start(new SessionDisplay(console, view, Thread.currentThread()));
            Shell shell = new Shell(session, console);
            if (!shell.negotiate()) {
                return 1;
            }
            if (console instanceof TerminalConsole terminal) {
                terminal.completeCommands(shell.commandNames());
                console.show("Tab completes command names, Ctrl-C drops the line, Ctrl-D ends the shell.");
            }
            return shell.loop();
        }
    }

    private static ShellConsole openConsole(ShellOptions options) throws IOException {
        if (System.console() != null && System.console().isTerminal()) {
            return TerminalConsole.open(options.history());
        }
        // QMP is UTF-8 whatever the locale says.
        return PipedConsole.start(System.in, new PrintStream(System.out, true, StandardCharsets.UTF_8),
                new PrintStream(System.err, true, StandardCharsets.UTF_8));
    }

    private boolean negotiate() {
        Optional<JsonNode> reply = await(command("qmp_capabilities"), false);
        if (reply.isEmpty()) {
            console.complain(Objects.requireNonNullElse(session.lost(), "interrupted while negotiating capabilities"));
            return false;
        }
        if (!reply.get().has("return")) {
            console.complain("qmp_capabilities failed: " + reply.get());
            return false;
        }
        return true;
    }

    /** The names query-commands lists, for completion; none if it fails. */
    private List<String> commandNames() {
        List<String> names = new ArrayList<>();
        await(command("query-commands"), false).ifPresent(reply ->
                reply.path("return").forEach(command -> names.add(command.path("name").asText())));
        return names;
    }

    /** Reads, sends and shows until the input ends or QEMU quits; the exit status. */
    private int loop() {
        int failures = 0;
        while (session.lost() == null) {
            String line;
            try {
                line = console.readLine(parser.prompt());
            } catch (CancellationException e) {
                if (session.lost() == null && parser.dropTransaction()) {
                    console.complain("transaction dropped");
                }
                continue;
            }
            if (line == null) {
                if (parser.dropTransaction()) {
                    console.complain("the input ended inside a transaction; it was not sent");
                    failures++;
                }
                return status(failures);
            }
            Optional<ObjectNode> command;
            try {
                command = parser.parse(line);
            } catch (ShellSyntaxException e) {
                console.complain(e.getMessage() + "; nothing sent");
                failures++;
                continue;
            }
            if (command.isEmpty()) {
                continue;
            }
            Optional<JsonNode> reply = await(command.get(), true);
            if (reply.isEmpty()) {
                if (session.lost() == null) {
                    console.complain("no longer waiting; the reply is shown when it comes");
                }
            } else if (!reply.get().has("return")) {
                failures++;
            } else if (command.get().path("execute").asText().equals("quit")) {
                // QEMU closes the connection next: that is the end of the session, not a lost connection.
                return status(failures);
            }
        }
        console.complain(session.lost());
        return 1;
    }

    /**
     * Sends a command and waits for its reply; empty when the connection went away first or the
     * user pressed Ctrl-C (both interrupt this thread; {@link QmpSession#lost} tells them apart).
     */
    private Optional<JsonNode> await(ObjectNode command, boolean shown) {
        CompletableFuture<JsonNode> reply = session.execute(command, shown);
        try {
            return Optional.of(reply.get());
        } catch (ExecutionException | InterruptedException e) {
            return Optional.empty();
        }
    }

    private static int status(int failures) {
        return failures == 0 ? 0 : 1;
    }

    private static ObjectNode command(String name) {
        return ShellJson.MAPPER.createObjectNode().put("execute", name);
    }
}
