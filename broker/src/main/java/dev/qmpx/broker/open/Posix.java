package dev.qmpx.broker.open;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few Linux calls the broker needs that the JDK does not offer, through FFM: openat2 (race-free
 * resolution without symlinks), fcntl (flags, OFD locks) and close. Stateless and thread-safe.
 */
public final class Posix {
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_EXCL = 0x80;
    public static final int O_NOCTTY = 0x100;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_DIRECTORY = 0x10000;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_PATH = 0x200000;

    public static final long RESOLVE_NO_MAGICLINKS = 0x02;
    public static final long RESOLVE_NO_SYMLINKS = 0x04;
    public static final long RESOLVE_BENEATH = 0x08;

    public static final int ENOENT = 2;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EAGAIN = 11;
    public static final int EXDEV = 18;
    public static final int ELOOP = 40;
    public static final int ENXIO = 6;

    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int F_OFD_SETLK = 37;
    public static final short F_RDLCK = 0;
    public static final short F_WRLCK = 1;
    public static final short F_UNLCK = 2;

    private static final long SYS_OPENAT2 = 437;
    private static final int AT_FDCWD = -100;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** long syscall(long n, int dirfd, const char *path, struct open_how *how, size_t size) */
    private static final MethodHandle SYSCALL_OPENAT2 = LINKER.downcallHandle(symbol("syscall"),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.firstVariadicArg(1), CAPTURE_ERRNO);
    private static final MethodHandle FCNTL_INT = LINKER.downcallHandle(symbol("fcntl"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2), CAPTURE_ERRNO);
    private static final MethodHandle FCNTL_PTR = LINKER.downcallHandle(symbol("fcntl"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2), CAPTURE_ERRNO);
    private static final MethodHandle UNLINKAT = LINKER.downcallHandle(symbol("unlinkat"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
            CAPTURE_ERRNO);
    private static final MethodHandle CLOSE = LINKER.downcallHandle(symbol("close"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private Posix() {
    }

    /** A failed call and its errno. */
    public static final class Errno extends Exception {
        public final int errno;

        Errno(String call, int errno) {
            super(call + " failed: errno " + errno, null, false, false);
            this.errno = errno;
        }
    }

    private static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    /**
     * openat2(dirfd, path, {flags, mode, resolve}); dirfd -1 means the current directory
     * (AT_FDCWD). Returns the new fd.
     */
    public static int openat2(int dirfd, String path, int flags, int mode, long resolve) throws Errno {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment how = arena.allocate(24, 8);
            how.set(ValueLayout.JAVA_LONG, 0, flags & 0xFFFFFFFFL);
            how.set(ValueLayout.JAVA_LONG, 8, mode);
            how.set(ValueLayout.JAVA_LONG, 16, resolve);
            MemorySegment state = arena.allocate(CALL_STATE);
            long fd = (long) SYSCALL_OPENAT2.invokeExact(state, SYS_OPENAT2, dirfd < 0 ? AT_FDCWD : dirfd,
                    arena.allocateFrom(path), how, 24L);
            if (fd < 0) {
                throw new Errno("openat2(" + path + ")", (int) ERRNO.get(state, 0L));
            }
            return (int) fd;
        } catch (Errno e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("openat2 downcall failed", t);
        }
    }

    /** Clears O_NONBLOCK, which the broker opens with so that a FIFO or device open cannot hang. */
    public static void clearNonBlocking(int fd) throws Errno {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int flags = (int) FCNTL_INT.invokeExact(state, fd, F_GETFL, 0);
            if (flags < 0 || (int) FCNTL_INT.invokeExact(state, fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
                throw new Errno("fcntl(F_SETFL)", (int) ERRNO.get(state, 0L));
            }
        } catch (Errno e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fcntl downcall failed", t);
        }
    }

    /**
     * An open-file-description lock on the whole file (F_OFD_SETLK, not waiting): owned by the open
     * file, not the process, so two opens in one process conflict as two processes would.
     *
     * @param type F_RDLCK, F_WRLCK or F_UNLCK
     * @return false when another open file holds a conflicting lock
     */
    public static boolean ofdLock(int fd, short type) throws Errno {
        try (Arena arena = Arena.ofConfined()) {
            // struct flock on x86_64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
            MemorySegment flock = arena.allocate(32, 8);
            flock.set(ValueLayout.JAVA_SHORT, 0, type);
            flock.set(ValueLayout.JAVA_SHORT, 2, (short) 0); // SEEK_SET
            flock.set(ValueLayout.JAVA_LONG, 8, 0L);
            flock.set(ValueLayout.JAVA_LONG, 16, 0L); // the whole file
            flock.set(ValueLayout.JAVA_INT, 24, 0); // must be 0 for OFD locks
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) FCNTL_PTR.invokeExact(state, fd, F_OFD_SETLK, flock);
            if (result == 0) {
                return true;
            }
            int errno = (int) ERRNO.get(state, 0L);
            if (errno == EAGAIN || errno == EACCES) {
                return false;
            }
            throw new Errno("fcntl(F_OFD_SETLK)", errno);
        } catch (Errno e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fcntl downcall failed", t);
        }
    }

    /** unlinkat(dirfd, name, 0): removes a file (never a directory) named relative to dirfd. */
    public static void unlinkat(int dirfd, String name) throws Errno {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) UNLINKAT.invokeExact(state, dirfd, arena.allocateFrom(name), 0);
            if (result < 0) {
                throw new Errno("unlinkat(" + name + ")", (int) ERRNO.get(state, 0L));
            }
        } catch (Errno e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("unlinkat downcall failed", t);
        }
    }

    public static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close downcall failed", t);
        }
    }
}
