package dev.qmpx.proxy.loop;

import org.newsclub.net.unix.FileDescriptorAccess;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One platform thread waiting in epoll: every socket of one guest (its QEMU monitor, its listeners,
 * its clients) is served here, so routing state needs no locks and a command crosses no thread
 * hand-off on its way through. junixsocket does the non-blocking reads and writes (with SCM_RIGHTS);
 * this loop only says when. See THREADS.md.
 *
 * <p>Measured here: a loop-served echo round trip costs about 6 µs, a blocking junixsocket read
 * about 65 µs, and virtual threads starve junixsocket readers (java-stack-facts §2).
 *
 * <p>{@link #execute} may be called from any thread; everything else only from the loop thread.
 */
public final class EventLoop implements Executor {
    private static final Logger LOG = Logger.getLogger(EventLoop.class.getName());

    /** The process's exit status when a loop thread fails (EX_SOFTWARE); see {@link #fail}. */
    public static final int EXIT_LOOP_FAILED = 70;

    /** Interest and readiness: the socket can be read (or accepted from, or hung up). */
    public static final int READ = 1;
    /** Interest and readiness: the socket can be written. */
    public static final int WRITE = 4;

    /** Called on the loop thread when a registered socket is ready. */
    public interface Handler {
        /** @param ready READ and/or WRITE; a hang-up or error is reported as READ */
        void ready(int ready) throws IOException;

        /** The handler threw: release what it holds. The loop itself goes on. */
        void failed(Exception e);

        /**
         * Whether this handler's events are dispatched before the others of the same turn (QEMU's
         * monitor, admin clients): a turn that parses many flooding clients' input would otherwise
         * make a management client wait for all of them twice, once for its command and once for
         * QEMU's reply.
         */
        default boolean first() {
            return false;
        }
    }

    /** A socket registered with the loop. Use and cancel it on the loop thread. */
    public final class Registration {
        private final int fd;
        /** Tells this registration's events from those of an earlier socket that had the same fd number. */
        private final int generation = ++generations;
        private final Handler handler;
        private int interest;
        private boolean cancelled;

        private Registration(int fd, int interest, Handler handler) {
            this.fd = fd;
            this.interest = interest;
            this.handler = handler;
        }

        public int interest() {
            return interest;
        }

        private long data() {
            return ((long) generation << 32) | (fd & 0xFFFFFFFFL);
        }

        public void interest(int ops) {
            if (cancelled || ops == interest) {
                return;
            }
            try {
                epoll.modify(fd, epollEvents(ops), data());
                interest = ops;
            } catch (IOException e) {
                handler.failed(e);
            }
        }

        /**
         * Stops watching the socket; call before closing it. junixsocket closes a socket itself
         * when a write fails, so the removal may find the fd gone (EBADF): the kernel has then
         * already dropped it from the epoll set.
         */
        public void cancel() {
            if (cancelled) {
                return;
            }
            cancelled = true;
            registrations.remove(fd);
            try {
                epoll.remove(fd);
            } catch (IOException e) {
                LOG.log(Level.FINE, "epoll remove of fd " + fd, e);
            }
        }
    }

    /** A pending timer; cancel it on the loop thread. */
    public static final class Timer implements Comparable<Timer> {
        private final long deadlineNanos;
        /**
         * Null once cancelled: a cancelled timer stays in the queue until its deadline reaches the
         * head, and its action would keep what it captured (a command in flight, with its id and
         * arguments) alive that long, for every command answered behind an earlier timer.
         */
        private Runnable action;

        private Timer(long deadlineNanos, Runnable action) {
            this.deadlineNanos = deadlineNanos;
            this.action = action;
        }

        public void cancel() {
            action = null;
        }

        @Override
        public int compareTo(Timer other) {
            return Long.compare(deadlineNanos, other.deadlineNanos);
        }
    }

    private final Epoll epoll;
    private final Thread thread;
    private final Map<Integer, Registration> registrations = new HashMap<>();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    /**
     * Set by the execute() that writes the eventfd, cleared by the loop once it has drained it: while
     * set, a wake-up is on its way, so other execute() calls need not write one.
     */
    private final AtomicBoolean wakeupPending = new AtomicBoolean();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    /** The turn's events whose handlers are not {@link Handler#first}, dispatched after those that are. */
    private final Registration[] laterRegistrations = new Registration[Epoll.MAX_EVENTS];
    private final int[] laterEvents = new int[Epoll.MAX_EVENTS];
    private volatile boolean stopping;
    private int generations;

    public EventLoop(String name) throws IOException {
        this.epoll = new Epoll();
        // Deep enough for the JSON parser's recursion at the highest nesting limit allowed.
        this.thread = new Thread(null, this::run, name, 16L << 20);
    }

    public void start() {
        thread.start();
    }

    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
        if (!inLoop() && wakeupPending.compareAndSet(false, true)) {
            epoll.wakeup();
        }
    }

    public Timer schedule(long delayMillis, Runnable action) {
        Timer timer = new Timer(System.nanoTime() + delayMillis * 1_000_000L, action);
        timers.add(timer);
        return timer;
    }

    /** Watches a junixsocket channel (already non-blocking) for the given interest. */
    public Registration register(FileDescriptorAccess channel, int interest, Handler handler) throws IOException {
        int fd = FileDescriptorCast.using(channel.getFileDescriptor()).as(Integer.class);
        Registration registration = new Registration(fd, interest, handler);
        epoll.add(fd, epollEvents(interest), registration.data());
        registrations.put(fd, registration);
        return registration;
    }

    private static int epollEvents(int interest) {
        return ((interest & READ) != 0 ? Epoll.IN : 0) | ((interest & WRITE) != 0 ? Epoll.OUT : 0);
    }

    /**
     * Stops the loop after its current iteration, waits for its thread, then releases epoll; from
     * any thread but the loop's. Sockets stay open (their owners close them).
     */
    public void close() throws InterruptedException {
        stopping = true;
        epoll.wakeup();
        thread.join();
        epoll.close();
    }

    private void run() {
        try {
            serve();
        } catch (Throwable t) {
            fail(t);
        }
    }

    /**
     * Something escaped the loop's own handling: an Error (an OutOfMemoryError in a parser, a
     * StackOverflowError) or a handler's failure handler throwing. The guest's state (sessions,
     * commands in flight, fds passed on, its job) is then in an unknown, half-updated state, and the
     * heap is shared by every guest of the process: so the process exits with {@link
     * #EXIT_LOOP_FAILED} and one clear log line, for its supervisor (systemd Restart=on-failure) to
     * start it afresh. QEMU keeps running, clients reconnect as after any proxy restart, and
     * snapshot journals are finished or undone on the next start. Restarting the guest inside the
     * process instead would keep whatever the failure left behind (before, the thread just died:
     * the guest's clients were never greeted again and nothing said so). halt, not exit: the
     * shutdown hook would report status 0, which is for a requested stop.
     */
    private void fail(Throwable t) {
        try {
            LOG.log(Level.SEVERE, "event loop " + thread.getName() + " failed: " + t
                    + "; the process exits with status " + EXIT_LOOP_FAILED + " for its supervisor to restart it", t);
            for (java.util.logging.Handler handler : Logger.getLogger("").getHandlers()) {
                handler.flush();
            }
        } finally {
            Runtime.getRuntime().halt(EXIT_LOOP_FAILED);
        }
    }

    private void serve() {
        while (!stopping) {
            try {
                long timeout = runTimers();
                int n = epoll.await(tasks.isEmpty() ? (int) Math.min(timeout, Integer.MAX_VALUE) : 0);
                int later = 0;
                for (int i = 0; i < n; i++) {
                    Registration registration = current(epoll.readyData(i));
                    if (registration == null) {
                        continue;
                    }
                    if (registration.handler.first()) {
                        dispatch(registration, epoll.readyEvents(i));
                    } else {
                        laterRegistrations[later] = registration;
                        laterEvents[later++] = epoll.readyEvents(i);
                    }
                }
                for (int i = 0; i < later; i++) {
                    dispatch(laterRegistrations[i], laterEvents[i]);
                    laterRegistrations[i] = null;
                }
                // Only after the eventfd is drained (readyData): cleared before, a wake-up written in
                // between would be drained while its flag stayed set, and every later execute() from
                // another thread would skip its wake-up and wait for an unrelated event.
                wakeupPending.set(false);
                runTasks();
            } catch (IOException e) {
                LOG.log(Level.SEVERE, "epoll failed; the loop stops", e);
                break;
            }
        }
    }

    /** The registration an event is for, or null for the eventfd or a socket no longer registered. */
    private Registration current(long data) {
        Registration registration = data == -1L ? null : registrations.get((int) data);
        return registration == null || registration.generation != (int) (data >>> 32) ? null : registration;
    }

    /** A registration cancelled by an earlier handler of the same turn is skipped. */
    private void dispatch(Registration registration, int events) {
        if (registration.cancelled) {
            return;
        }
        // epoll reports a hang-up whatever the interest: it is passed on as READ, so that the
        // owner reads the end of stream (or closes a socket it had stopped reading).
        boolean hangup = (events & (Epoll.HUP | Epoll.ERR)) != 0;
        int ready = ((events & Epoll.IN) != 0 || hangup ? READ : 0)
                | ((events & Epoll.OUT) != 0 && (registration.interest & WRITE) != 0 ? WRITE : 0);
        try {
            registration.handler.ready(ready);
        } catch (Exception e) {
            registration.handler.failed(e);
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = tasks.poll()) != null) {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "task failed", e);
            }
        }
    }

    /** Runs due timers; returns how long epoll may block in ms (-1 = indefinitely). */
    private long runTimers() {
        while (!timers.isEmpty()) {
            Timer next = timers.peek();
            long remaining = next.deadlineNanos - System.nanoTime();
            Runnable action = next.action;
            if (action == null) {
                timers.poll();
            } else if (remaining <= 0) {
                timers.poll();
                try {
                    action.run();
                } catch (RuntimeException e) {
                    LOG.log(Level.SEVERE, "timer failed", e);
                }
            } else {
                return Math.max(1, (remaining + 999_999) / 1_000_000L);
            }
        }
        return -1;
    }
}
