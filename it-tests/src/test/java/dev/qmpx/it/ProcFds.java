package dev.qmpx.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Open file descriptors of a process, from /proc: how the tests see leaks in QEMU and qmpx. */
final class ProcFds {
    private ProcFds() {
    }

    static int count(long pid) {
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return (int) fds.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
