package dev.qmpx.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A command running on a real terminal: one tmux pane of a private tmux server (its own socket in
 * the test's directory), driven with send-keys and read with capture-pane.
 */
final class TmuxPane implements AutoCloseable {
    private static final String SESSION = "qx";

    private final Path socket;

    private TmuxPane(Path socket) {
        this.socket = socket;
    }

    /** Starts {@code command} (run by sh) in a 200x50 pane. Fails, never skips, when tmux is missing. */
    static TmuxPane start(WorkDir dir, String command) throws IOException, InterruptedException {
        TmuxPane pane = new TmuxPane(dir.resolve("tmux.sock"));
        try {
            pane.tmux("new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50", command);
        } catch (IOException e) {
            throw new AssertionError("this test drives a terminal through tmux, which could not be run (" + e.getMessage()
                    + "); bin/test installs it, or: apt-get install tmux", e);
        }
        return pane;
    }

    /** tmux send-keys: literal text or key names such as Enter, Tab, C-c, C-d. */
    void keys(String... keys) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("send-keys", "-t", SESSION));
        args.addAll(List.of(keys));
        tmux(args.toArray(String[]::new));
    }

    /** What the pane shows, trailing blank lines removed. */
    String screen() {
        try {
            return tmux("capture-pane", "-p", "-t", SESSION).stripTrailing();
        } catch (IOException e) {
            return "(capture-pane failed: " + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    void awaitScreen(String what, Duration timeout, Predicate<String> condition) {
        try {
            Await.until(what, timeout, () -> condition.test(screen()));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; the pane shows:\n" + screen(), e);
        }
    }

    private String tmux(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("tmux", "-S", socket.toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        // readAllBytes returned at tmux's exit (end of its output), so this does not wait.
        if (process.waitFor() != 0) {
            throw new IOException("tmux " + String.join(" ", args) + " failed: " + output);
        }
        return output;
    }

    /** Ends the server and whatever still runs in it; it has ended by itself if its only command did. */
    @Override
    public void close() throws IOException, InterruptedException {
        new ProcessBuilder("tmux", "-S", socket.toString(), "kill-server").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
    }
}
