package dev.qmpx.bench;

import dev.qmpx.proxy.demo.QemuProcess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One benchmark's directory under /tmp (short: unix socket paths must stay under 108 bytes) and
 * every process it started. {@link #close()} stops them all and removes the directory; a JVM
 * shutdown hook kills whatever is still running if the bench dies or is interrupted first.
 *
 * <p>Threads: the benchmark's thread starts and closes; the shutdown hook may kill concurrently, so
 * the process list is a concurrent deque and each step tolerates a process that is already gone.
 */
public final class Workspace implements AutoCloseable {
    private static final Deque<Process> ALL = new ConcurrentLinkedDeque<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> ALL.forEach(Process::destroyForcibly), "bench-cleanup"));
    }

    private final Path dir;
    private final Path home;
    private final boolean keep;
    private final Deque<Process> processes = new ConcurrentLinkedDeque<>();

    private Workspace(Path dir, Path home, boolean keep) {
        this.dir = dir;
        this.home = home;
        this.keep = keep;
    }

    /** @param home the qmpx checkout, whose bin/qmpx starts the proxy and broker */
    public static Workspace create(String name, Path home, boolean keep) throws IOException {
        return new Workspace(Files.createTempDirectory(Path.of("/tmp"), "qb-" + name + "-"), home, keep);
    }

    public Path dir() {
        return dir;
    }

    /** A new subdirectory. */
    public Path subdir(String name) throws IOException {
        return Files.createDirectories(dir.resolve(name));
    }

    /** A QEMU ({@code -M none}) with its monitor at {@code dir/qemu.sock}, stopped by {@link #close()}. */
    public QemuProcess qemu(Path qemuDir, List<String> extraArgs) throws IOException {
        QemuProcess qemu = QemuProcess.start(qemuDir, extraArgs);
        track(qemu.process());
        return qemu;
    }

    /**
     * Starts {@code bin/qmpx ROLE ARGS} with stdout and stderr in log, and waits until the log holds
     * readyText readyCount times (the socket files exist before the sockets accept).
     */
    public Process qmpx(String role, List<String> args, Path log, String readyText, int readyCount) throws IOException {
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/qmpx").toString(), role));
        command.addAll(args);
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        track(process);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (occurrences(log, readyText) < readyCount) {
            if (!process.isAlive()) {
                throw new IOException("qmpx " + role + " exited with " + process.exitValue() + ":\n" + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("qmpx " + role + " not ready within 60 s:\n" + Files.readString(log));
            }
            try {
                process.waitFor(20, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting qmpx " + role, e);
            }
        }
        return process;
    }

    private static int occurrences(Path log, String text) throws IOException {
        return Files.exists(log) ? Files.readString(log).split(java.util.regex.Pattern.quote(text), -1).length - 1 : 0;
    }

    private void track(Process process) {
        processes.push(process);
        ALL.add(process);
    }

    /** SIGTERM, then SIGKILL after 10 s; for a process this workspace started. */
    public void stop(Process process) {
        QemuProcess.terminate(process);
        processes.remove(process);
        ALL.remove(process);
    }

    /** Stops every process (newest first: clients' proxies before their QEMUs) and removes the directory. */
    @Override
    public void close() throws IOException {
        // SIGTERM to all at once, then wait: 100 QEMUs stop in parallel.
        processes.forEach(Process::destroy);
        for (Process p : List.copyOf(processes)) {
            stop(p);
        }
        if (keep) {
            System.out.println("kept " + dir);
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
