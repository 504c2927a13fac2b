package dev.qmpx.shell;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Optional;

/**
 * The {@code --log} file: every line sent ({@code -> }) and received ({@code <- }) as it went over the
 * socket, one a line, after a {@code #} line that opens each session. Written by the main thread
 * (sent) and the reading thread (received), serialised on this object's monitor.
 */
final class SessionLog implements AutoCloseable {
    private final Path path;
    /** Null when there is no log. A PrintWriter throws nothing; {@link #close} reports a failure. */
    private final PrintWriter writer;

    private SessionLog(Path path, PrintWriter writer) {
        this.path = path;
        this.writer = writer;
    }

    static SessionLog open(Optional<Path> path, Path socket) throws IOException {
        if (path.isEmpty()) {
            return new SessionLog(null, null);
        }
        PrintWriter writer;
        try {
            writer = new PrintWriter(Files.newBufferedWriter(path.get(), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE));
        } catch (NoSuchFileException e) {
            throw new IOException("cannot open the log " + path.get() + ": no such directory", e);
        } catch (AccessDeniedException e) {
            throw new IOException("cannot open the log " + path.get() + ": permission denied", e);
        } catch (IOException e) {
            throw new IOException("cannot open the log " + path.get() + ": " + e.getMessage(), e);
        }
        SessionLog log = new SessionLog(path.get(), writer);
        log.line("# qmpx shell " + Instant.now() + " " + socket);
        return log;
    }

    void sent(String line) {
        line("-> " + line);
    }

    void received(String line) {
        line("<- " + line);
    }

    private synchronized void line(String text) {
        if (writer != null) {
            writer.print(text);
            writer.print('\n');
            writer.flush();
        }
    }

    /** Closes the file; fails if any line could not be written (a full disk must not pass unnoticed). */
    @Override
    public synchronized void close() throws IOException {
        if (writer == null) {
            return;
        }
        boolean failed = writer.checkError();
        writer.close();
        if (failed) {
            throw new IOException("could not write every line to the log " + path);
        }
    }
}
