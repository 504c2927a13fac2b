package dev.qmpx.shell;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.SynchronousQueue;

/**
 * Input that is not a terminal (a pipe, a file): lines without a prompt or editing; replies and
 * events on stdout, complaints on stderr. A {@code shell-stdin} platform thread does the blocking
 * reads and hands each line over a {@link SynchronousQueue}, so that the main thread waits on the
 * queue, which an interrupt can end when the connection goes away (a read on stdin cannot be).
 */
final class PipedConsole implements ShellConsole {
    /** A line, or empty at the end of input. The reading thread ends after handing that over. */
    private final BlockingQueue<Optional<String>> lines = new SynchronousQueue<>();
    private final PrintStream out;
    private final PrintStream err;

    private PipedConsole(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    static PipedConsole start(InputStream in, PrintStream out, PrintStream err) {
        PipedConsole console = new PipedConsole(out, err);
        Thread.ofPlatform().name("shell-stdin").daemon().start(() -> console.pump(in));
        return console;
    }

    private void pump(InputStream in) {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        try {
            try {
                for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                    lines.put(Optional.of(line));
                }
            } catch (IOException e) {
                complain("cannot read standard input: " + e.getMessage());
            }
            lines.put(Optional.empty());
        } catch (InterruptedException e) {
            // Ends the thread: an interrupt here can only mean the process is going away.
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String readLine(String prompt) {
        try {
            return lines.take().orElse(null);
        } catch (InterruptedException e) {
            throw new CancellationException("interrupted");
        }
    }

    @Override
    public synchronized void show(String text) {
        out.println(text);
        out.flush();
    }

    @Override
    public synchronized void complain(String text) {
        out.flush();
        err.println("qmpx shell: " + text);
        err.flush();
    }

    @Override
    public void close() {
        out.flush();
        err.flush();
    }
}
