package dev.qmpx.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Event fan-out: N negotiated clients on the proxy, all read by the calling thread through one
 * Selector; a separate blocking client (through the proxy too) sends stop and cont in turn. For each
 * event: from sending the command until the last client, and until the median client, has read the
 * event, and for reference until a client on QEMU's other monitor (in the same Selector) has.
 */
final class FanoutBench implements Benchmark {
    private static final int WARMUP = 4;

    @Override
    public Report run(BenchOptions options, Workspace workspace) throws IOException {
        int n = options.fanoutClients();
        Proc.requireOpenFiles(n + 200L, "fanout with " + n + " clients");
        ProxiedQemu setup = ProxiedQemu.start(workspace, List.of());
        List<QmpChannel> opened = new ArrayList<>();
        long[] last = new long[options.fanoutRepeats()];
        long[] median = new long[options.fanoutRepeats()];
        long[] observer = new long[options.fanoutRepeats()];
        try (Selector selector = Selector.open()) {
            QmpChannel trigger = QmpChannel.negotiated(setup.proxied());
            opened.add(trigger);
            List<QmpChannel> clients = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                QmpChannel client = QmpChannel.negotiated(setup.proxied());
                opened.add(client);
                clients.add(client);
                client.nonBlocking().channel().register(selector, SelectionKey.OP_READ, i);
            }
            QmpChannel direct = QmpChannel.negotiated(setup.direct());
            opened.add(direct);
            direct.nonBlocking().channel().register(selector, SelectionKey.OP_READ, n);
            clients.add(direct);
            ByteBuffer stop = QmpChannel.command("{\"execute\":\"stop\"}");
            ByteBuffer cont = QmpChannel.command("{\"execute\":\"cont\"}");
            long[] arrival = new long[n + 1];
            for (int r = -WARMUP; r < options.fanoutRepeats(); r++) {
                // -M none starts running: stop, cont, stop, ... each emits its event.
                boolean stopping = (r + WARMUP) % 2 == 0;
                String event = stopping ? "STOP" : "RESUME";
                Arrays.fill(arrival, -1);
                long start = System.nanoTime();
                trigger.send(stopping ? stop : cont);
                awaitEvent(selector, clients, "\"event\": \"" + event + "\"", start, arrival);
                QmpChannel.expectReturn(trigger.readReply(), event.toLowerCase());
                if (r >= 0) {
                    long observed = arrival[n];
                    long[] proxied = Arrays.copyOf(arrival, n);
                    Arrays.sort(proxied);
                    last[r] = proxied[n - 1];
                    median[r] = proxied[(n - 1) / 2];
                    observer[r] = observed;
                }
            }
        } finally {
            for (QmpChannel c : opened) {
                c.close();
            }
        }
        Distribution lastD = Distribution.of(last);
        Distribution medianD = Distribution.of(median);
        Distribution observerD = Distribution.of(observer);
        TextTable.Builder table = new TextTable.Builder(
                "Event fan-out to " + n + " proxy clients, " + options.fanoutRepeats() + " events (ms from sending the command)",
                "until", "p50", "p99", "max");
        record Row(String until, Distribution d) {
        }
        for (Row row : List.of(new Row("the last of " + n + " clients read it", lastD),
                new Row("the median client read it", medianD),
                new Row("a client on QEMU's other monitor read it", observerD))) {
            table.row(row.until(), Format.millis(row.d().median()), Format.millis(row.d().percentile(99)),
                    Format.millis(row.d().max()));
        }
        Path chart = options.out().resolve("fanout.png");
        new CdfChart("Event fan-out to " + n + " clients through the proxy: CDF over " + options.fanoutRepeats() + " events",
                List.of(new CdfChart.Series("direct client on QEMU's other monitor", observerD),
                        new CdfChart.Series("median proxy client", medianD),
                        new CdfChart.Series("last of " + n + " proxy clients", lastD))).write(chart);
        return new Report("fanout", List.of(
                "One QEMU, the proxy on its second monitor. " + n + " negotiated clients on the proxy are read by one "
                        + "thread (a java.nio Selector over JDK unix channels, as a client process with many sessions "
                        + "would); a separate client on the proxy sends stop and cont in turn ("
                        + WARMUP + " warm-up events first). The time includes QEMU running the command, the proxy "
                        + "writing the event to every client and the bench reading " + n + " sockets, all on the same cores."),
                List.of(table.build()), List.of(chart));
    }

    /** Reads every client until each has a line containing marker; arrival[i] = nanos after start. */
    private static void awaitEvent(Selector selector, List<QmpChannel> clients, String marker, long start, long[] arrival)
            throws IOException {
        int missing = clients.size();
        while (missing > 0) {
            if (selector.select(10_000) == 0) {
                throw new IOException(missing + " of " + clients.size() + " clients did not get the event within 10 s");
            }
            for (SelectionKey key : selector.selectedKeys()) {
                int i = (Integer) key.attachment();
                QmpChannel client = clients.get(i);
                if (client.readAvailable() < 0) {
                    throw new IOException("client " + i + " closed by the peer");
                }
                long now = System.nanoTime();
                String line;
                while ((line = client.pollLine()) != null) {
                    if (!line.contains(marker) || arrival[i] >= 0) {
                        throw new IOException("client " + i + " got an unexpected line: " + line);
                    }
                    arrival[i] = now - start;
                    missing--;
                }
            }
            selector.selectedKeys().clear();
        }
    }
}
