package dev.qmpx.proxy.downstream;

import org.newsclub.net.unix.FileDescriptorCast;

import java.io.FileDescriptor;
import java.io.IOException;
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
 * Reads a unix client socket with {@code recvmsg} through FFM, so that every descriptor the kernel
 * installs in this process is seen and owned.
 *
 * <p>junixsocket 2.11.1 cannot be trusted with this: its ancillary buffer is always 256 bytes
 * whatever {@code setAncillaryReceiveBufferSize} asks ({@code max(256, min(sizeof(cmsghdr), size))}),
 * room for 60 fds, and on {@code MSG_CTRUNC} it reports ENOBUFS ("No buffer space available")
 * without handing over the fds the kernel had already installed: a client sending 61 fds leaked
 * 60 in the proxy per message. Here the control buffer holds the most one message can carry
 * (SCM_MAX_FD), and if the kernel still reports truncation, the fds that did arrive are returned
 * with the flag set, so the caller closes them.
 *
 * <p>One per event loop, used by one read at a time on the loop thread (its buffers are shared).
 */
public final class ClientReads {
    /** The kernel's SCM_MAX_FD: the most descriptors one sendmsg may carry. */
    public static final int MAX_FDS_PER_MESSAGE = 253;

    private static final int BUFFER_SIZE = 64 * 1024;
    private static final int CMSG_HEADER = 16; // struct cmsghdr on x86_64/aarch64: size_t len, int level, int type
    private static final int CONTROL_SIZE = CMSG_HEADER + align(MAX_FDS_PER_MESSAGE * Integer.BYTES);
    private static final int MSGHDR_SIZE = 56;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle RECVMSG = LINKER.downcallHandle(
            LINKER.defaultLookup().find("recvmsg").orElseThrow(() -> new UnsatisfiedLinkError("libc has no recvmsg")),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("close").orElseThrow(() -> new UnsatisfiedLinkError("libc has no close")),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("strerror").orElseThrow(() -> new UnsatisfiedLinkError("libc has no strerror")),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    /**
     * What one read gave.
     *
     * @param length bytes now at the start of {@link #buffer()}; 0 when nothing was waiting, -1 at
     *     the end of the stream
     * @param fds every descriptor received with them, now the caller's to close
     * @param truncated the kernel cut the control message (MSG_CTRUNC): it closed the fds that did
     *     not fit, so the message's fds are incomplete
     */
    public record Read(int length, FileDescriptor[] fds, boolean truncated) {
    }

    private static final FileDescriptor[] NONE = new FileDescriptor[0];

    private final byte[] buffer = new byte[BUFFER_SIZE];
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment data = arena.allocate(BUFFER_SIZE, 8);
    private final MemorySegment control = arena.allocate(CONTROL_SIZE, 8);
    private final MemorySegment iovec = arena.allocate(16, 8);
    private final MemorySegment message = arena.allocate(MSGHDR_SIZE, 8);
    private final MemorySegment callState = arena.allocate(CALL_STATE);

    public byte[] buffer() {
        return buffer;
    }

    /** One non-blocking recvmsg on the socket behind the descriptor. */
    public Read read(FileDescriptor socket, int maxBytes) throws IOException {
        int fd = FileDescriptorCast.using(socket).as(Integer.class);
        iovec.set(ValueLayout.ADDRESS, 0, data);
        iovec.set(ValueLayout.JAVA_LONG, 8, Math.min(maxBytes, BUFFER_SIZE));
        message.fill((byte) 0);
        message.set(ValueLayout.ADDRESS, 16, iovec);
        message.set(ValueLayout.JAVA_LONG, 24, 1L);
        message.set(ValueLayout.ADDRESS, 32, control);
        message.set(ValueLayout.JAVA_LONG, 40, CONTROL_SIZE);
        long n;
        do {
            try {
                n = (long) RECVMSG.invokeExact(callState, fd, message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            } catch (Throwable t) {
                throw new IOException("recvmsg failed", t);
            }
        } while (n < 0 && errno() == EINTR);
        if (n < 0) {
            int errno = errno();
            if (errno == EAGAIN) {
                return new Read(0, NONE, false);
            }
            throw new IOException(strerror(errno));
        }
        FileDescriptor[] fds = descriptors();
        boolean truncated = (message.get(ValueLayout.JAVA_INT, 48) & MSG_CTRUNC) != 0;
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, buffer, 0, (int) n);
        return new Read(n == 0 ? -1 : (int) n, fds, truncated);
    }

    /** The SCM_RIGHTS descriptors in the control data the kernel filled in. */
    private FileDescriptor[] descriptors() throws IOException {
        int[] numbers = numbers();
        FileDescriptor[] fds = new FileDescriptor[numbers.length];
        for (int i = 0; i < numbers.length; i++) {
            try {
                fds[i] = FileDescriptorCast.unsafeUsing(numbers[i]).getFileDescriptor();
            } catch (IOException e) {
                // Not one of them may stay open unowned.
                for (int k = i; k < numbers.length; k++) {
                    closeNumber(numbers[k]);
                }
                for (int k = 0; k < i; k++) {
                    dev.qmpx.proxy.fds.PendingFds.close(fds[k]);
                }
                throw e;
            }
        }
        return fds;
    }

    private int[] numbers() {
        long length = message.get(ValueLayout.JAVA_LONG, 40);
        int[] fds = new int[0];
        long at = 0;
        while (at + CMSG_HEADER <= length) {
            long cmsgLength = control.get(ValueLayout.JAVA_LONG, at);
            if (cmsgLength < CMSG_HEADER || at + cmsgLength > length) {
                break;
            }
            if (control.get(ValueLayout.JAVA_INT, at + 8) == SOL_SOCKET
                    && control.get(ValueLayout.JAVA_INT, at + 12) == SCM_RIGHTS) {
                int count = (int) ((cmsgLength - CMSG_HEADER) / Integer.BYTES);
                int[] more = java.util.Arrays.copyOf(fds, fds.length + count);
                for (int i = 0; i < count; i++) {
                    more[fds.length + i] = control.get(ValueLayout.JAVA_INT, at + CMSG_HEADER + (long) i * Integer.BYTES);
                }
                fds = more;
            }
            at += align(cmsgLength);
        }
        return fds;
    }

    private static void closeNumber(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close failed", t);
        }
    }

    private int errno() {
        return (int) ERRNO.get(callState, 0L);
    }

    private static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static int align(long n) {
        return (int) ((n + 7) & ~7L);
    }
}
