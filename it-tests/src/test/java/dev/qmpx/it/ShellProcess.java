package dev.qmpx.it;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real {@code bin/qmpx shell} with its stdin a pipe the test writes to; stdout and stderr in files. */
final class ShellProcess implements AutoCloseable {
    final Process process;
    final Path out;
    final Path err;
    private final OutputStream stdin;

    private ShellProcess(Process process, Path out, Path err) {
        this.process = process;
        this.out = out;
        this.err = err;
        this.stdin = process.getOutputStream();
    }

    static ShellProcess start(WorkDir dir, String name, List<String> args) throws IOException {
        List<String> command = new ArrayList<>(List.of(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "shell"));
        command.addAll(args);
        Path out = dir.resolve(name + ".out");
        Path err = dir.resolve(name + ".err");
        Process process = new ProcessBuilder(command)
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        return new ShellProcess(process, out, err);
    }

    /** Writes lines as the user would type them, each followed by a newline. */
    void type(String... lines) throws IOException {
        for (String line : lines) {
            stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        stdin.flush();
    }

    void endInput() throws IOException {
        stdin.close();
    }

    String out() {
        return contents(out);
    }

    String err() {
        return contents(err);
    }

    void awaitOut(String text, Duration timeout) {
        try {
            Await.until("shell output containing '" + text + "'", timeout, () -> out().contains(text));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; " + transcript(), e);
        }
    }

    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("the shell did not exit within " + timeout.toMillis() + " ms; " + transcript());
        }
        return process.exitValue();
    }

    String transcript() {
        return "stdout:\n" + out() + "\nstderr:\n" + err();
    }

    /** A file's text; empty while it does not exist. */
    static String contents(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Kills a shell still running (a failed test's); it holds nothing that needs a clean exit. */
    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }
}
