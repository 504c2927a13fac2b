package dev.qmpx.proxy.loop;

import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tasks handed to the loop from other threads: each one wakes it, whatever the loop was doing. */
class EventLoopTest {
    private static final String LOOP_NAME = "loop-wake-test";
    private static final long TIMEOUT_SECONDS = 5;

    /**
     * An execute() from another thread while the loop handles a socket that was ready before its
     * eventfd: the loop drains that wake-up afterwards, in the same pass. Found as a snapshot that
     * stopped for 60 s between two QMP steps under load: every later execute() believed a wake-up
     * was still pending and wrote none, so the loop slept until an unrelated event. Linux lists
     * ready fds in the order they became ready, so a timer (running on the loop, whose eventfd is
     * then off the ready list) makes the socket ready first and then has the eventfd written.
     */
    @Test
    void anExecuteWhileTheLoopDispatchesLeavesLaterOnesAbleToWakeIt() throws Exception {
        EventLoop loop = new EventLoop(LOOP_NAME);
        try (AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open()) {
            AFUNIXSocketChannel watched = pair.getSocket1();
            watched.configureBlocking(false);
            loop.start();
            CompletableFuture<Void> handled = new CompletableFuture<>();
            loop.execute(() -> {
                try {
                    loop.register(watched, EventLoop.READ, new ExecutingHandler(loop, watched, handled));
                } catch (IOException e) {
                    handled.completeExceptionally(e);
                }
                loop.schedule(1, () -> {
                    writeByte(pair.getSocket2());
                    executeFromAnotherThread(loop, () -> { });
                });
            });
            handled.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            awaitLoopInEpollWait();

            CompletableFuture<Void> later = new CompletableFuture<>();
            loop.execute(() -> later.complete(null));
            assertTrue(ranWithinTimeout(later), "a task executed while the loop slept did not wake it");
        } finally {
            loop.close();
        }
    }

    /**
     * A timer cancelled behind an earlier one stays queued until its own deadline, but what its
     * action captured must not: every answered command's reply timer captured the command (a
     * one-MiB id, say), and with the status page's one-second timer at the head, ten seconds of
     * answered commands stayed alive and exhausted a 256 MiB heap (HostileLoadIT).
     */
    @Test
    void aCancelledTimerLetsGoOfWhatItsActionCapturedAtOnce() throws Exception {
        EventLoop loop = new EventLoop(LOOP_NAME);
        try {
            loop.start();
            CompletableFuture<java.lang.ref.WeakReference<byte[]>> captured = new CompletableFuture<>();
            loop.execute(() -> {
                loop.schedule(60_000, () -> { });
                byte[] command = new byte[1 << 20];
                EventLoop.Timer reply = loop.schedule(600_000, () -> command[0]++);
                reply.cancel();
                captured.complete(new java.lang.ref.WeakReference<>(command));
            });
            java.lang.ref.WeakReference<byte[]> command = captured.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (command.get() != null && System.nanoTime() < deadline) {
                System.gc();
            }
            assertTrue(command.get() == null, "a cancelled timer still holds what its action captured");
        } finally {
            loop.close();
        }
    }

    private static boolean ranWithinTimeout(CompletableFuture<Void> task) throws Exception {
        try {
            task.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        }
    }

    /** On its first readiness, reads the byte and has another thread execute a task, then says so. */
    private record ExecutingHandler(EventLoop loop, AFUNIXSocketChannel channel, CompletableFuture<Void> handled)
            implements EventLoop.Handler {
        @Override
        public void ready(int ready) throws IOException {
            channel.read(ByteBuffer.allocate(16));
            if (!handled.isDone()) {
                executeFromAnotherThread(loop, () -> handled.complete(null));
            }
        }

        @Override
        public void failed(Exception e) {
            handled.completeExceptionally(e);
        }
    }

    /** execute() as a worker calls it (not from the loop thread), returning once it has. */
    private static void executeFromAnotherThread(EventLoop loop, Runnable task) {
        try {
            Thread.ofPlatform().start(() -> loop.execute(task)).join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void writeByte(AFUNIXSocketChannel channel) {
        try {
            channel.write(ByteBuffer.wrap(new byte[] {1}));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The loop thread asleep in epoll_wait, as the kernel reports it: only then can a wake-up be missed. */
    private static void awaitLoopInEpollWait() throws IOException {
        Path task = loopTask();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        // do_epoll_wait on current kernels, ep_poll on older ones.
        while (!Files.readString(task.resolve("wchan")).matches(".*ep(oll|_poll).*")) {
            assertTrue(System.nanoTime() < deadline, "the loop thread never blocked in epoll_wait");
            // The polling interval; what ends the wait is the thread's state (or the deadline).
            LockSupport.parkNanos(1_000_000L);
        }
    }

    private static Path loopTask() throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                if (Files.readString(task.resolve("comm")).strip().equals(LOOP_NAME)) {
                    return task;
                }
            }
        }
        throw new AssertionError("no thread named " + LOOP_NAME + " in /proc/self/task");
    }
}
