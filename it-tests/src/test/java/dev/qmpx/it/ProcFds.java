package dev.qmpx.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;

/** Open file descriptors of a process, from /proc: how the tests see leaks in QEMU and qmpx. */
final class ProcFds {
    private ProcFds() {
    }

    static int count(long pid) {
        return targets(pid).size();
    }

    /** fd number to what it refers to (a path, {@code socket:[inode]}, {@code pipe:[inode]}, ...). */
    static Map<Integer, String> targets(long pid) {
        Map<Integer, String> targets = new TreeMap<>();
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    targets.put(Integer.parseInt(fd.getFileName().toString()), Files.readSymbolicLink(fd).toString());
                } catch (NoSuchFileException closedMeanwhile) {
                    // closed between the listing and the readlink: not open any more
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return targets;
    }

    /**
     * Waits until the process has exactly as many fds open as in {@code baseline}; on timeout the
     * error lists the fds that differ, so a leak names what leaked.
     */
    static void awaitCount(String what, long pid, Map<Integer, String> baseline, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<Integer, String> now;
        while ((now = targets(pid)).size() != baseline.size()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what
                        + " back to its " + baseline.size() + " fds; it has " + now.size() + ": " + difference(baseline, now));
            }
            // The polling interval; what ends the wait is the count (or the deadline).
            LockSupport.parkNanos(5_000_000L);
        }
    }

    private static String difference(Map<Integer, String> before, Map<Integer, String> after) {
        List<String> lines = new ArrayList<>();
        after.forEach((fd, target) -> {
            if (!target.equals(before.get(fd))) {
                lines.add("+" + fd + " -> " + target);
            }
        });
        before.forEach((fd, target) -> {
            if (!target.equals(after.get(fd))) {
                lines.add("-" + fd + " -> " + target);
            }
        });
        return String.join(", ", lines);
    }
}
