package dev.qmpx.proxy.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real qemu-system-x86_64 with a QMP socket, for the demo and the integration tests:
 * {@code -M none -nodefaults -display none} starts in about 15 ms and idles at 0 % CPU
 * (qemu-facts §2). stderr goes to {@code qemu.log} beside the socket.
 */
public final class QemuProcess implements AutoCloseable {
    public static final String BINARY = "qemu-system-x86_64";

    private final Process process;
    private final Path socket;
    private final Path log;

    private QemuProcess(Process process, Path socket, Path log) {
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /**
     * Starts QEMU with its monitor at {@code dir/qemu.sock} (keep dir short: unix socket paths must
     * stay under 108 bytes) and waits for the socket file to appear.
     */
    public static QemuProcess start(Path dir, List<String> extraArgs) throws IOException {
        return start(dir, extraArgs, List.of());
    }

    /** @param wrapper words before the binary, e.g. setpriv to run QEMU as another user */
    public static QemuProcess start(Path dir, List<String> extraArgs, List<String> wrapper) throws IOException {
        Path socket = dir.resolve("qemu.sock");
        Path log = dir.resolve("qemu.log");
        List<String> command = new ArrayList<>(wrapper);
        command.addAll(List.of(BINARY, "-M", "none", "-nodefaults", "-display", "none",
                "-qmp", "unix:" + socket + ",server=on,wait=off"));
        command.addAll(extraArgs);
        Process process = new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        QemuProcess qemu = new QemuProcess(process, socket, log);
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!Files.exists(socket)) {
            if (!process.isAlive()) {
                throw new IOException("QEMU exited with status " + process.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                qemu.close();
                throw new IOException("QEMU did not create " + socket + " within 20 s");
            }
            Thread.onSpinWait();
            try {
                process.waitFor(5, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting QEMU", e);
            }
        }
        return qemu;
    }

    public Path socket() {
        return socket;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public Process process() {
        return process;
    }

    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** SIGKILL, for tests of a crash. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM and wait; SIGKILL if QEMU does not stop within 10 s. */
    @Override
    public void close() {
        terminate(process);
    }

    /** SIGTERM, then SIGKILL if the process has not ended within 10 s; keeps the interrupt status. */
    public static void terminate(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
