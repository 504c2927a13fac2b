package dev.qmpx.proxy.loop;

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
 * Linux epoll and an eventfd for wake-ups, through FFM. Used instead of junixsocket's selector,
 * which closes a channel itself when poll reports POLLHUP (losing the bytes QEMU wrote just before
 * closing, such as the reply to {@code quit}) and shares one wake-up pipe among all selectors of a
 * process (a wake-up meant for one guest's loop can be consumed by another's).
 *
 * <p>Owned by one loop thread, except {@link #wakeup()}, which any thread may call.
 */
final class Epoll implements AutoCloseable {
    static final int IN = 0x001;
    static final int OUT = 0x004;
    static final int ERR = 0x008;
    static final int HUP = 0x010;

    private static final int CTL_ADD = 1;
    private static final int CTL_DEL = 2;
    private static final int CTL_MOD = 3;
    private static final int CLOEXEC = 0x80000;
    private static final int EFD_NONBLOCK = 0x800;
    private static final int EINTR = 4;
    private static final int EVENT_SIZE = 12; // struct epoll_event is packed on x86_64
    static final int MAX_EVENTS = 256;
    /** The data of the wake-up eventfd's events; registrations use generation << 32 | fd, never -1. */
    private static final long WAKE_DATA = -1L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final MethodHandle EPOLL_CREATE1 = function("epoll_create1",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle EPOLL_CTL = function("epoll_ctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS), CAPTURE_ERRNO);
    private static final MethodHandle EPOLL_WAIT = function("epoll_wait",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle EVENTFD = function("eventfd",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = function("read",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG));
    private static final MethodHandle WRITE = function("write",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = function("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private final Arena arena = Arena.ofShared();
    private final int epfd;
    private final int wakeFd;
    private final MemorySegment events = arena.allocate(EVENT_SIZE * MAX_EVENTS, 8);
    private final MemorySegment control = arena.allocate(EVENT_SIZE, 8);
    private final MemorySegment callState = arena.allocate(CALL_STATE);
    private final MemorySegment wakeValue = arena.allocate(8, 8);
    private final MemorySegment drain = arena.allocate(8, 8);

    Epoll() throws IOException {
        try {
            epfd = (int) EPOLL_CREATE1.invokeExact(CLOEXEC);
            if (epfd < 0) {
                throw new IOException("epoll_create1 failed");
            }
            wakeFd = (int) EVENTFD.invokeExact(0, CLOEXEC | EFD_NONBLOCK);
            if (wakeFd < 0) {
                throw new IOException("eventfd failed");
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("epoll unavailable", t);
        }
        wakeValue.set(ValueLayout.JAVA_LONG, 0, 1L);
        control(CTL_ADD, wakeFd, IN, WAKE_DATA);
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** @param data returned with the fd's events (the loop puts a generation beside the fd number) */
    void add(int fd, int events, long data) throws IOException {
        control(CTL_ADD, fd, events, data);
    }

    void modify(int fd, int events, long data) throws IOException {
        control(CTL_MOD, fd, events, data);
    }

    void remove(int fd) throws IOException {
        control(CTL_DEL, fd, 0, 0);
    }

    private void control(int op, int fd, int mask, long data) throws IOException {
        control.set(ValueLayout.JAVA_INT, 0, mask);
        control.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, data);
        int result;
        try {
            result = (int) EPOLL_CTL.invokeExact(callState, epfd, op, fd, control);
        } catch (Throwable t) {
            throw new IOException("epoll_ctl failed", t);
        }
        if (result < 0) {
            throw new IOException("epoll_ctl(op " + op + ", fd " + fd + ") failed: errno " + errno());
        }
    }

    /**
     * Waits for events; returns how many, 0 on timeout or interruption by a signal.
     *
     * @param timeoutMillis -1 to wait indefinitely
     */
    int await(int timeoutMillis) throws IOException {
        int n;
        try {
            n = (int) EPOLL_WAIT.invokeExact(callState, epfd, events, MAX_EVENTS, timeoutMillis);
        } catch (Throwable t) {
            throw new IOException("epoll_wait failed", t);
        }
        if (n < 0) {
            if (errno() == EINTR) {
                return 0;
            }
            throw new IOException("epoll_wait failed: errno " + errno());
        }
        return n;
    }

    /** The data of ready event i; -1 for the loop's own wake-up eventfd, which it drains. */
    long readyData(int i) {
        long data = events.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * EVENT_SIZE + 4);
        if (data == WAKE_DATA) {
            try {
                long ignored = (long) READ.invokeExact(wakeFd, drain, 8L);
            } catch (Throwable t) {
                throw new IllegalStateException("eventfd read failed", t);
            }
        }
        return data;
    }

    int readyEvents(int i) {
        return events.get(ValueLayout.JAVA_INT, (long) i * EVENT_SIZE);
    }

    /** Makes a blocked {@link #await} return; safe from any thread. */
    void wakeup() {
        try {
            long ignored = (long) WRITE.invokeExact(wakeFd, wakeValue, 8L);
        } catch (Throwable t) {
            throw new IllegalStateException("eventfd write failed", t);
        }
    }

    private int errno() {
        return (int) ERRNO.get(callState, 0L);
    }

    @Override
    public void close() {
        try {
            int ignoredWake = (int) CLOSE.invokeExact(wakeFd);
            int ignoredEpoll = (int) CLOSE.invokeExact(epfd);
        } catch (Throwable t) {
            throw new IllegalStateException("close failed", t);
        }
        arena.close();
    }
}
