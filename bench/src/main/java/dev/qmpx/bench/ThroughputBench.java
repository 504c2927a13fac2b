package dev.qmpx.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Pipelined throughput: C clients through the proxy together vs one client directly on the other
 * monitor of the same QEMU, each keeping W commands outstanding. Rounds alternate which path runs
 * first; the figure is the median round. All clients are driven by the calling thread (one Selector
 * per side), so the bench adds one busy thread in both cases.
 */
final class ThroughputBench implements Benchmark {
    private static final List<LatencyBench.Command> COMMANDS = LatencyBench.COMMANDS.subList(0, 2);

    @Override
    public Report run(BenchOptions options, Workspace workspace) throws IOException {
        ProxiedQemu setup = ProxiedQemu.start(workspace, List.of());
        List<QmpChannel> opened = new ArrayList<>();
        TextTable.Builder table = new TextTable.Builder(
                "Pipelined throughput, " + options.throughputCommands() + " commands per run, window "
                        + options.throughputWindow() + " per client (commands/s)",
                "command", "direct (1 client)", "proxy (" + options.throughputClients() + " clients)",
                "proxy / direct", "rounds: direct", "rounds: proxy");
        try {
            QmpChannel direct = QmpChannel.negotiated(setup.direct());
            opened.add(direct);
            List<QmpChannel> proxied = new ArrayList<>();
            for (int i = 0; i < options.throughputClients(); i++) {
                QmpChannel client = QmpChannel.negotiated(setup.proxied());
                opened.add(client);
                proxied.add(client);
            }
            try (Pipeline directPipeline = new Pipeline(List.of(direct)); Pipeline proxyPipeline = new Pipeline(proxied)) {
                for (LatencyBench.Command command : COMMANDS) {
                    ByteBuffer bytes = QmpChannel.command(command.json());
                    int window = options.throughputWindow();
                    int total = options.throughputCommands();
                    directPipeline.run(bytes, window, total / 4);
                    proxyPipeline.run(bytes, window, total / 4);
                    double[] d = new double[options.throughputRounds()];
                    double[] p = new double[options.throughputRounds()];
                    for (int r = 0; r < d.length; r++) {
                        if (r % 2 == 0) {
                            d[r] = rate(directPipeline.run(bytes, window, total), total);
                            p[r] = rate(proxyPipeline.run(bytes, window, total), total);
                        } else {
                            p[r] = rate(proxyPipeline.run(bytes, window, total), total);
                            d[r] = rate(directPipeline.run(bytes, window, total), total);
                        }
                    }
                    double directRate = median(d);
                    double proxyRate = median(p);
                    table.row(command.label() + " (" + command.bytes() + " B)", Format.rate(directRate),
                            Format.rate(proxyRate), Format.percent(proxyRate / directRate), rates(d), rates(p));
                }
            }
        } finally {
            for (QmpChannel c : opened) {
                c.close();
            }
        }
        return new Report("throughput", List.of(
                "Same QEMU, two monitors. Direct: one client pipelining on the first monitor. Proxy: "
                        + options.throughputClients() + " clients pipelining through the proxy on the second "
                        + "(the proxy keeps at most --max-in-flight 8 commands unanswered upstream). "
                        + options.throughputRounds() + " rounds each after a warm-up run, alternating which "
                        + "goes first; the median round is shown."),
                List.of(table.build()), List.of());
    }

    private static double rate(long nanos, int commands) {
        return commands * 1e9 / nanos;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[(sorted.length - 1) / 2];
    }

    private static String rates(double[] values) {
        List<String> parts = new ArrayList<>();
        for (double v : values) {
            parts.add(Format.rate(v));
        }
        return String.join(" ", parts);
    }
}
