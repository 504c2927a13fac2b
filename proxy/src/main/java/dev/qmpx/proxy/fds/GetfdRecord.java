package dev.qmpx.proxy.fds;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The getfd names the proxy's clients hold in QEMU, on disk. QEMU keeps a monitor's getfd fds after
 * the connection closes (only fdsets are cleaned up then; measured on 7.2), and offers no query of
 * them, so a proxy killed with clients' fds in QEMU could never close them: the next proxy reads
 * this record and sends closefd for each. Rewritten (write, rename) on every change; not forced to
 * disk, since a crash of the host ends QEMU and its fds too. Loop thread only.
 */
public final class GetfdRecord {
    private static final Logger LOG = Logger.getLogger(GetfdRecord.class.getName());

    private final Path file;
    private final Set<String> names = new LinkedHashSet<>();

    public GetfdRecord(Path stateDir, String guest) {
        this.file = stateDir.resolve(guest + ".getfd-names");
    }

    void created(String upstreamName) {
        if (names.add(upstreamName)) {
            write();
        }
    }

    public void closed(String upstreamName) {
        if (names.remove(upstreamName)) {
            write();
        }
    }

    /** Names an earlier proxy process left in QEMU; the record is emptied. */
    public List<String> takeLeftovers() {
        try {
            List<String> left = Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .filter(name -> !name.isEmpty() && !names.contains(name)).toList();
            write();
            return left;
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            LOG.warning("cannot read " + file + ": " + e.getMessage());
            return List.of();
        }
    }

    private void write() {
        try {
            Files.createDirectories(file.getParent(), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            Path temp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.write(temp, names.isEmpty() ? List.of() : List.copyOf(names), StandardCharsets.UTF_8);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.warning("cannot write " + file + " (getfd fds of clients of a killed proxy would stay in QEMU): "
                    + e.getMessage());
        }
    }
}
