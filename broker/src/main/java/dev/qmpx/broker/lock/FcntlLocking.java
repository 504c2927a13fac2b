package dev.qmpx.broker.lock;

import dev.qmpx.broker.open.Posix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * {@code fcntl}: like virtlockd, one lock file per image in a lockspace directory, named by the
 * SHA-256 of the image's canonical path, locked with open-file-description locks (F_OFD_SETLK):
 * shared for a read lease, exclusive for a write lease. OFD locks belong to the open file, not the
 * process, so two guests' leases conflict inside this broker as they would across brokers sharing
 * the lockspace (e.g. on shared storage). A lease lives as long as its lock file stays open.
 */
public final class FcntlLocking implements LockManagerProvider {
    @Override
    public String name() {
        return "fcntl";
    }

    @Override
    public LockManager create(LockManagerContext context) throws LockManagerRefusal {
        if (context.apiVersion() != LockManager.API_VERSION) {
            throw new LockManagerRefusal("built for lock-manager API " + LockManager.API_VERSION
                    + ", broker has " + context.apiVersion());
        }
        try {
            Files.createDirectories(context.lockspace());
        } catch (IOException e) {
            throw new LockManagerRefusal("cannot create lockspace " + context.lockspace() + ": " + e.getMessage());
        }
        if (!Files.isDirectory(context.lockspace()) || !Files.isWritable(context.lockspace())) {
            throw new LockManagerRefusal("lockspace " + context.lockspace() + " is not a writable directory");
        }
        return new Leases(context.lockspace());
    }

    private static final class Leases implements LockManager {
        private record Lease(int fd, boolean exclusive) {
        }

        private final Path lockspace;
        /** guest -> path -> lease; guarded by this. */
        private final Map<String, Map<String, Lease>> leases = new HashMap<>();

        Leases(Path lockspace) {
            this.lockspace = lockspace;
        }

        @Override
        public synchronized void acquire(String guest, String path, boolean exclusive) throws LockConflictException {
            Map<String, Lease> held = leases.computeIfAbsent(guest, g -> new HashMap<>());
            Lease lease = held.get(path);
            if (lease != null && (lease.exclusive() || !exclusive)) {
                return;
            }
            int fd = lease != null ? lease.fd() : openLockFile(path);
            boolean locked;
            try {
                locked = Posix.ofdLock(fd, exclusive ? Posix.F_WRLCK : Posix.F_RDLCK);
            } catch (Posix.Errno e) {
                locked = false;
            }
            if (!locked) {
                if (lease == null) {
                    Posix.close(fd);
                }
                throw new LockConflictException(path + " is " + (exclusive ? "in use" : "held for writing")
                        + " by another guest (lease " + lockFile(path).getFileName() + ")");
            }
            held.put(path, new Lease(fd, exclusive));
        }

        private int openLockFile(String path) throws LockConflictException {
            try {
                return Posix.openat2(-1, lockFile(path).toString(), Posix.O_RDWR | Posix.O_CREAT | Posix.O_CLOEXEC, 0600, 0);
            } catch (Posix.Errno e) {
                throw new LockConflictException("cannot open the lock file for " + path + ": " + e.getMessage());
            }
        }

        private Path lockFile(String path) {
            try {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(path.getBytes(StandardCharsets.UTF_8));
                return lockspace.resolve(HexFormat.of().formatHex(digest));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public synchronized void release(String guest, String path) {
            Map<String, Lease> held = leases.get(guest);
            Lease lease = held == null ? null : held.remove(path);
            if (lease != null) {
                Posix.close(lease.fd()); // closing the open file drops its OFD lock
            }
        }

        @Override
        public synchronized void close() {
            for (Map<String, Lease> held : leases.values()) {
                held.values().forEach(lease -> Posix.close(lease.fd()));
            }
            leases.clear();
        }
    }
}
