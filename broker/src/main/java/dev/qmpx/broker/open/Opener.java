package dev.qmpx.broker.open;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a whitelisted path so that what is opened is exactly that path:
 * <ol>
 * <li>openat2 from "/" with RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH: the
 * kernel refuses any symlink on the way, atomically, so no check can be raced by swapping a link;</li>
 * <li>for an existing file, first with O_PATH, which opens nothing (a device's open can have side
 * effects), to check its type; then the real open through the pinned /proc/self/fd/N;</li>
 * <li>a new file (create) with O_CREAT | O_EXCL, mode 0600: never an existing file, never truncated;</li>
 * <li>verification: /proc/self/fd/N must name the requested path.</li>
 * </ol>
 * O_NONBLOCK during the open keeps a FIFO from blocking the broker; it is cleared before the fd is
 * handed out. Thread-safe.
 */
public final class Opener {
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFDIR = 0040000;
    private static final long RESOLVE = Posix.RESOLVE_NO_SYMLINKS | Posix.RESOLVE_NO_MAGICLINKS | Posix.RESOLVE_BENEATH;

    private Opener() {
    }

    /** Opens path (canonical and whitelisted by the caller); returns an fd the caller must close. */
    public static int open(String path, boolean write, boolean create, boolean specialFiles) throws OpenFailure {
        int access = (write ? Posix.O_RDWR : Posix.O_RDONLY) | Posix.O_CLOEXEC | Posix.O_NOCTTY | Posix.O_NONBLOCK;
        int root = openRoot();
        int fd;
        try {
            if (create) {
                fd = call(path, () -> Posix.openat2(root, path.substring(1), access | Posix.O_CREAT | Posix.O_EXCL, 0600, RESOLVE));
            } else {
                int pinned = call(path, () -> Posix.openat2(root, path.substring(1), Posix.O_PATH | Posix.O_CLOEXEC, 0, RESOLVE));
                try {
                    checkType(pinned, specialFiles);
                    fd = call(path, () -> Posix.openat2(-1, "/proc/self/fd/" + pinned, access, 0, 0));
                } finally {
                    Posix.close(pinned);
                }
            }
        } finally {
            Posix.close(root);
        }
        try {
            verify(fd, path, specialFiles);
            Posix.clearNonBlocking(fd);
            return fd;
        } catch (OpenFailure | RuntimeException e) {
            Posix.close(fd);
            throw e;
        } catch (Posix.Errno e) {
            Posix.close(fd);
            throw new OpenFailure("PermissionDenied", "cannot set flags on " + path + ": " + e.getMessage());
        }
    }

    /** The inode of an open fd, to recognise a file later. */
    public static long inode(int fd) throws OpenFailure {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self/fd/" + fd), "unix:ino")).longValue();
        } catch (IOException e) {
            throw new OpenFailure("PermissionDenied", "cannot stat what was opened: " + e.getMessage());
        }
    }

    /**
     * Removes path if it is still the file with the given inode, resolving its directory without
     * symlinks. For undoing a create: it never removes a file someone else put there since.
     */
    public static void unlink(String path, long inode) throws OpenFailure {
        int root = openRoot();
        try {
            int pinned = call(path, () -> Posix.openat2(root, path.substring(1), Posix.O_PATH | Posix.O_CLOEXEC, 0, RESOLVE));
            try {
                if (inode(pinned) != inode) {
                    throw new OpenFailure("PermissionDenied", path + " is no longer the file the broker created");
                }
            } finally {
                Posix.close(pinned);
            }
            int slash = path.lastIndexOf('/');
            String dir = slash == 0 ? "." : path.substring(1, slash);
            int dirFd = call(path, () -> Posix.openat2(root, dir, Posix.O_PATH | Posix.O_DIRECTORY | Posix.O_CLOEXEC, 0, RESOLVE));
            try {
                Posix.unlinkat(dirFd, path.substring(slash + 1));
            } catch (Posix.Errno e) {
                throw failure(path, e.errno);
            } finally {
                Posix.close(dirFd);
            }
        } finally {
            Posix.close(root);
        }
    }

    private static int openRoot() throws OpenFailure {
        try {
            return Posix.openat2(-1, "/", Posix.O_PATH | Posix.O_DIRECTORY | Posix.O_CLOEXEC, 0, 0);
        } catch (Posix.Errno e) {
            throw new OpenFailure("PermissionDenied", "cannot open /: " + e.getMessage());
        }
    }

    private interface Call {
        int run() throws Posix.Errno;
    }

    private static int call(String path, Call call) throws OpenFailure {
        try {
            return call.run();
        } catch (Posix.Errno e) {
            throw failure(path, e.errno);
        }
    }

    private static OpenFailure failure(String path, int errno) {
        return switch (errno) {
            case Posix.ENOENT, Posix.ENOTDIR -> new OpenFailure("NotFound", path + ": no such file");
            case Posix.ELOOP -> new OpenFailure("PermissionDenied", path + ": a component is a symlink (the broker follows none)");
            case Posix.EXDEV -> new OpenFailure("PermissionDenied", path + ": resolution escapes its starting point");
            case Posix.EEXIST -> new OpenFailure("PermissionDenied", path + ": exists (create is exclusive and never truncates)");
            case Posix.EACCES -> new OpenFailure("PermissionDenied", path + ": the broker itself may not open it");
            case Posix.EISDIR -> new OpenFailure("InvalidRequest", path + ": is a directory");
            case Posix.ENXIO -> new OpenFailure("InvalidRequest", path + ": no such device or no reader");
            default -> new OpenFailure("PermissionDenied", path + ": open failed (errno " + errno + ")");
        };
    }

    private static void checkType(int fd, boolean specialFiles) throws OpenFailure {
        int type = mode(fd) & S_IFMT;
        if (type == S_IFDIR) {
            throw new OpenFailure("InvalidRequest", "is a directory");
        }
        if (type != S_IFREG && !specialFiles) {
            throw new OpenFailure("PermissionDenied",
                    "not a regular file (device nodes and FIFOs need an entry that allows them)");
        }
    }

    private static void verify(int fd, String path, boolean specialFiles) throws OpenFailure {
        checkType(fd, specialFiles);
        String opened;
        try {
            opened = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException e) {
            throw new OpenFailure("PermissionDenied", "cannot verify what was opened: " + e.getMessage());
        }
        if (!opened.equals(path)) {
            throw new OpenFailure("PermissionDenied", "opened " + opened + " instead of " + path);
        }
    }

    private static int mode(int fd) throws OpenFailure {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self/fd/" + fd), "unix:mode");
        } catch (IOException e) {
            throw new OpenFailure("PermissionDenied", "cannot stat what was opened: " + e.getMessage());
        }
    }
}
