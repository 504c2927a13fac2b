package dev.qmpx.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.client.AdminClient;
import dev.qmpx.broker.client.OpenHookClient;
import dev.qmpx.broker.open.OpenFailure;
import dev.qmpx.broker.open.Opener;
import dev.qmpx.broker.open.Posix;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Open grants of a real {@code qmpx broker}: one guest, one whitelisted file, 1, 8 and 64
 * requesters at once, each on its own platform thread with its own connection (junixsocket: never
 * virtual threads). Each requester thread owns its client and its latency array; the main thread
 * merges them after joining. The floor is the broker's own open (Opener: openat2, O_PATH check,
 * /proc verification) called on the main thread of this JVM.
 */
final class BrokerBench implements Benchmark {
    private static final String GUEST = "bench";
    private static final int WARMUP = 2000;

    @Override
    public Report run(BenchOptions options, Workspace workspace) throws IOException, InterruptedException {
        Path dir = workspace.subdir("broker").toRealPath();
        Path image = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        Path admin = dir.resolve("admin.sock");
        workspace.qmpx("broker", List.of("--state", dir.resolve("state").toString(), "--hook-dir",
                dir.resolve("hooks").toString(), "--admin", admin.toString()), dir.resolve("broker.log"), "broker serving", 1);
        admin(admin, AdminClient.request("register").put("guest", GUEST));
        admin(admin, AdminClient.request("allow").put("guest", GUEST).put("path", image.toString()).put("access", "r"));
        Path hook = dir.resolve("hooks").resolve(GUEST + ".sock");

        TextTable.Builder table = new TextTable.Builder(
                "Broker grants of a read-only open, " + options.brokerGrants() + " per level (µs per grant)",
                "requesters", "grants/s", "median", "p99", "p99.9", "max");
        List<CdfChart.Series> series = new ArrayList<>();
        Distribution floor = floor(image.toString(), options.brokerGrants());
        table.row("in-process open (floor)", Format.rate(1e9 * floor.count() / sum(floor)), Format.micros(floor.median()),
                Format.micros(floor.percentile(99)), Format.micros(floor.percentile(99.9)), Format.micros(floor.max()));
        series.add(new CdfChart.Series("in-process Opener.open (floor)", floor));
        grants(hook, image.toString(), 1, WARMUP);
        for (int level : options.brokerLevels()) {
            Measured m = grants(hook, image.toString(), level, options.brokerGrants());
            table.row(Integer.toString(level), Format.rate(m.rate()), Format.micros(m.latency().median()),
                    Format.micros(m.latency().percentile(99)), Format.micros(m.latency().percentile(99.9)),
                    Format.micros(m.latency().max()));
            if (series.size() < 5) {
                series.add(new CdfChart.Series(level + (level == 1 ? " requester" : " requesters"), m.latency()));
            }
        }
        Path chart = options.out().resolve("broker.png");
        new CdfChart("Broker grant latency (request to fd received), and the in-process open", series).write(chart);
        return new Report("broker", List.of(
                "A real qmpx broker (lock manager none, audit log on) with one registered guest and one whitelisted "
                        + "1 MiB file; requesters use OpenHookClient on the guest's hook socket, one connection and "
                        + "platform thread each, and close every fd they receive. Grants/s is all requesters' grants "
                        + "over the wall time of the level. The floor is Opener.open plus close, called directly in "
                        + "the bench's JVM on the same file: what remains of a grant without the socket round trip, "
                        + "the whitelist lookup and the audit line."),
                List.of(table.build()), List.of(chart));
    }

    private record Measured(double rate, Distribution latency) {
    }

    private static void admin(Path socket, ObjectNode request) throws IOException {
        JsonNode reply = AdminClient.call(socket, request);
        if (reply.has("error")) {
            throw new IOException("broker admin " + request + ": " + reply);
        }
    }

    private static Distribution floor(String path, int count) throws IOException {
        long[] nanos = new long[count];
        try {
            for (int i = -WARMUP; i < count; i++) {
                long start = System.nanoTime();
                Posix.close(Opener.open(path, false, false, false));
                if (i >= 0) {
                    nanos[i] = System.nanoTime() - start;
                }
            }
        } catch (OpenFailure e) {
            throw new IOException("in-process open of " + path + ": " + e.getMessage(), e);
        }
        return Distribution.of(nanos);
    }

    private static Measured grants(Path hook, String path, int requesters, int total) throws IOException, InterruptedException {
        List<OpenHookClient> clients = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        long[][] latencies = new long[requesters][];
        AtomicReference<Exception> failure = new AtomicReference<>();
        CountDownLatch go = new CountDownLatch(1);
        try {
            for (int t = 0; t < requesters; t++) {
                OpenHookClient client = OpenHookClient.connect(hook);
                clients.add(client);
                int share = total / requesters + (t < total % requesters ? 1 : 0);
                long[] own = latencies[t] = new long[share];
                threads.add(Thread.ofPlatform().name("requester-" + t).start(() -> {
                    try {
                        go.await();
                        for (int i = 0; i < own.length; i++) {
                            long start = System.nanoTime();
                            FileDescriptor fd = client.open(path, false, false);
                            own[i] = System.nanoTime() - start;
                            new FileInputStream(fd).close();
                        }
                    } catch (Exception e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            long start = System.nanoTime();
            go.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            long elapsed = System.nanoTime() - start;
            if (failure.get() != null) {
                throw new IOException("a requester failed: " + failure.get(), failure.get());
            }
            long[] all = new long[total];
            int at = 0;
            for (long[] own : latencies) {
                System.arraycopy(own, 0, all, at, own.length);
                at += own.length;
            }
            return new Measured(total * 1e9 / elapsed, Distribution.of(all));
        } finally {
            go.countDown();
            for (OpenHookClient client : clients) {
                client.close();
            }
        }
    }

    private static long sum(Distribution d) {
        long total = 0;
        for (long v : d.sortedNanos()) {
            total += v;
        }
        return total;
    }
}
