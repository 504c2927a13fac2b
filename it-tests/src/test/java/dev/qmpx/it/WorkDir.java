package dev.qmpx.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** A short directory under /tmp: unix socket paths must stay under 108 bytes (qemu-facts §2). */
final class WorkDir implements AutoCloseable {
    final Path path;

    WorkDir() throws IOException {
        path = Files.createTempDirectory(Path.of("/tmp"), "qx-");
    }

    Path resolve(String name) {
        return path.resolve(name);
    }

    @Override
    public void close() throws IOException {
        try (Stream<Path> paths = Files.walk(path)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
