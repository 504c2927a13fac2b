package dev.qmpx.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Sequential round trips, direct on QEMU's first monitor vs through the proxy on its second, in
 * alternating blocks (which path goes first alternates too), so that both see the same QEMU, the
 * same JIT state of the proxy and the same background load. Everything runs on the calling
 * (platform) thread with blocking JDK channels.
 */
final class LatencyBench implements Benchmark {
    /** A secret object gives qom-get something to read; its long id makes the command 300 bytes. */
    static final String SECRET_ID = secretIdFor(300);
    static final List<Command> COMMANDS = List.of(
            new Command("query-status", "query-status", "{\"execute\":\"query-status\"}"),
            new Command("query-status, id", "query-status-id", "{\"execute\":\"query-status\",\"id\":7}"),
            new Command("qom-get, 300 B", "qom-get-300", qomGet(SECRET_ID)));

    record Command(String label, String file, String json) {
        int bytes() {
            return json.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
    }

    private static String qomGet(String id) {
        return "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/objects/" + id + "\",\"property\":\"format\"},\"id\":7}";
    }

    /** A QOM id (letters, digits, '-') such that the qom-get command is exactly size bytes. */
    static String secretIdFor(int size) {
        String base = "vm-0001-disk0-luks-secret-";
        int length = size - qomGet("").length();
        StringBuilder id = new StringBuilder(base);
        String hex = "0123456789abcdef";
        while (id.length() < length) {
            id.append(hex.charAt(id.length() % hex.length()));
        }
        return id.substring(0, length);
    }

    @Override
    public Report run(BenchOptions options, Workspace workspace) throws IOException {
        ProxiedQemu setup = ProxiedQemu.start(workspace,
                List.of("-object", "secret,id=" + SECRET_ID + ",data=qmpx-bench,format=raw"));
        TextTable.Builder table = new TextTable.Builder(
                "Sequential round trips, " + options.latencyRoundTrips() + " per command and path (µs)",
                "command", "bytes", "path", "median", "p90", "p99", "p99.9", "max");
        TextTable.Builder ratios = new TextTable.Builder("Proxy / direct",
                "command", "median ratio", "p99 ratio", "median added (µs)");
        List<Path> charts = new ArrayList<>();
        try (QmpChannel direct = QmpChannel.negotiated(setup.direct());
             QmpChannel proxied = QmpChannel.negotiated(setup.proxied())) {
            for (Command command : COMMANDS) {
                ByteBuffer bytes = QmpChannel.command(command.json());
                QmpChannel.expectReturn(direct.call(bytes), command.label() + " directly");
                QmpChannel.expectReturn(proxied.call(bytes), command.label() + " through the proxy");
                interleave(direct, proxied, bytes, options.latencyWarmup(), options.latencyBlock());
                Distribution[] measured = interleave(direct, proxied, bytes, options.latencyRoundTrips(), options.latencyBlock());
                Distribution d = measured[0];
                Distribution p = measured[1];
                row(table, command, "direct", d);
                row(table, command, "proxy", p);
                ratios.row(command.label(), Format.ratio((double) p.median() / d.median()),
                        Format.ratio((double) p.percentile(99) / d.percentile(99)),
                        Format.micros(p.median() - d.median()));
                Path chart = options.out().resolve("latency-" + command.file() + ".png");
                new CdfChart("Round-trip latency, " + command.label() + " (" + command.bytes() + " B): CDF",
                        List.of(new CdfChart.Series("direct on QEMU's monitor", d),
                                new CdfChart.Series("through qmpx proxy", p))).write(chart);
                charts.add(chart);
            }
        }
        return new Report("latency", List.of(
                "One QEMU (-M none) with two monitors; the proxy on the second. Round trips alternate in blocks of "
                        + options.latencyBlock() + " between a client on the first monitor and one on the proxy, after "
                        + options.latencyWarmup() + " warm-up round trips each. The proxy replaces a client's id with "
                        + "its own short one and sends a command without an id as it came, so QEMU reads the same number "
                        + "of bytes on both paths (it pays about 1.5 µs per request byte)."),
                List.of(table.build(), ratios.build()), charts);
    }

    private static void row(TextTable.Builder table, Command command, String path, Distribution d) {
        table.row(command.label(), Integer.toString(command.bytes()), path, Format.micros(d.median()),
                Format.micros(d.percentile(90)), Format.micros(d.percentile(99)), Format.micros(d.percentile(99.9)),
                Format.micros(d.max()));
    }

    /** n round trips on each path, in alternating blocks; returns {direct, proxy}, or null for n = 0. */
    private static Distribution[] interleave(QmpChannel direct, QmpChannel proxied, ByteBuffer command, int n, int block)
            throws IOException {
        long[] d = new long[n];
        long[] p = new long[n];
        int done = 0;
        boolean directFirst = true;
        while (done < n) {
            int count = Math.min(block, n - done);
            if (directFirst) {
                roundTrips(direct, command, d, done, count);
                roundTrips(proxied, command, p, done, count);
            } else {
                roundTrips(proxied, command, p, done, count);
                roundTrips(direct, command, d, done, count);
            }
            directFirst = !directFirst;
            done += count;
        }
        return n == 0 ? null : new Distribution[] {Distribution.of(d), Distribution.of(p)};
    }

    private static void roundTrips(QmpChannel channel, ByteBuffer command, long[] into, int from, int count)
            throws IOException {
        for (int i = from; i < from + count; i++) {
            long start = System.nanoTime();
            channel.send(command);
            String reply = channel.readLine();
            into[i] = System.nanoTime() - start;
            if (!reply.startsWith("{\"return\"")) {
                throw new IOException("not a return: " + reply);
            }
        }
    }
}
