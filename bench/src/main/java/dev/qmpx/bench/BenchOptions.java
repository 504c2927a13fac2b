package dev.qmpx.bench;

import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** The options of {@code qmpx bench}; the defaults make a full run take about two to three minutes on 2 cores. */
public record BenchOptions(
        Set<String> benchmarks, Path out, boolean keep,
        int latencyRoundTrips, int latencyWarmup, int latencyBlock,
        int throughputCommands, int throughputClients, int throughputWindow, int throughputRounds,
        int fanoutClients, int fanoutRepeats,
        int brokerGrants, List<Integer> brokerLevels,
        int memoryGuests, int memoryClients,
        int remoteRoundTrips, int remoteWsClients, int remoteEvents) {

    public static final List<String> ALL = List.of("latency", "throughput", "fanout", "broker", "memory", "remote");

    public static final String HELP = """
            NAME
                qmpx bench - measure qmpx against direct QMP on real QEMUs

            SYNOPSIS
                qmpx bench [BENCHMARK]... [OPTION]...

            DESCRIPTION
                Measures qmpx against QEMU on this machine, side by side in one run,
                with real qemu-system-x86_64 -M none processes, real `qmpx proxy` and
                `qmpx broker` processes (started through bin/qmpx) and real unix sockets
                under /tmp. Prints the machine and a table per benchmark, and writes
                results.md (the tables as markdown) and PNG charts into the output
                directory. Every process it starts is stopped at the end, also on
                failure. A benchmark that fails is reported and the others still run.

                No figure is asserted: the bench reports, it does not pass or fail on a
                number.

                Benchmarks (default: all, in this order):
                latency     One QEMU with two monitors, the proxy on the second.
                            Sequential round trips of the same command directly on the
                            first monitor and through the proxy, interleaved in blocks
                            so both see the same machine state; three commands:
                            {"execute":"query-status"} (26 B, no id: it goes to QEMU
                            without one too), the same with "id":7 (33 B: the proxy
                            puts a short id of its own in its place) and a 300-byte
                            qom-get; QEMU reads the same bytes both ways in each.
                            Median, p90, p99, p99.9, max, and
                            proxy/direct at the median and p99.
                throughput  16 clients pipelining through the proxy together vs one
                            client pipelining directly on the other monitor, each with a
                            window of W commands outstanding: commands/s and
                            proxy/direct, per round.
                fanout      1000 negotiated clients on the proxy (one Selector in the
                            bench); a separate client sends stop/cont; time from sending
                            it until the last (and the median) client has read the
                            STOP/RESUME event, and for a client on QEMU's other monitor
                            for reference.
                broker      A real broker with one guest and one whitelisted file:
                            grants/s and latency with 1, 8 and 64 concurrent requesters
                            (OpenHookClient, one connection and platform thread each;
                            every fd received is closed), against the broker's own
                            openat2 open called in this JVM.
                memory      100 QEMUs served by one proxy process (--config): its RSS
                            with 0 clients, with 10 idle negotiated clients per guest,
                            and with 1 guest, and the per-client and per-guest
                            increments.
                remote      The network front end: sequential round trips through one
                            proxy over mutual TLS 1.3 (--listen-tls) and over its unix
                            socket, alternating; and one event (stop/cont from a unix
                            client) to 1000 WebSocket clients (--listen-ws,
                            java.net.http): p50/p99 until the median and the last client
                            read it, and the proxy's RSS without and with those idle
                            clients.

                fanout, memory and remote keep about 1000 sockets open in this process
                and in the proxy; the open-file limit (ulimit -n) must allow it, or the
                benchmark fails saying so.

            OPTIONS
                --out DIR                Output directory (default: bench/results in the
                                         qmpx checkout). results.md and the PNGs are
                                         overwritten.
                --keep                   Keep the work directories under /tmp (logs,
                                         sockets).
              latency:
                --latency-n N            Round trips per command and path (default
                                         20000).
                --latency-warmup N       Round trips per command and path before
                                         measuring (default 5000).
                --latency-block N        Round trips per block; blocks alternate direct
                                         and proxy (default 500).
              throughput:
                --throughput-commands N  Commands per run, split over the clients
                                         (default 20000).
                --throughput-clients N   Clients through the proxy (default 16).
                --throughput-window N    Commands each client keeps outstanding
                                         (default 8).
                --throughput-rounds N    Runs of each, alternating direct and proxy
                                         (default 3).
              fanout:
                --fanout-clients N       Clients receiving the events (default 1000).
                --fanout-repeats N       Events measured (default 50).
              broker:
                --broker-grants N        Grants measured per concurrency level (default
                                         20000).
                --broker-levels LIST     Concurrency levels, comma-separated (default
                                         1,8,64).
              memory:
                --memory-guests N        QEMUs served by the one proxy (default 100).
                --memory-clients N       Idle clients per guest (default 10).
              remote:
                --remote-n N             Round trips per path (default 5000).
                --remote-ws-clients N    WebSocket clients receiving the events (default
                                         1000).
                --remote-events N        Events measured (default 30).

                -h, --help               Show this text.

            FILES
                OUT/results.md, OUT/*.png
                                         The tables as markdown, and the charts.
                /tmp/qb-BENCHMARK-*/     Each benchmark's work directory (QEMUs, the
                                         proxy's and broker's sockets and logs); removed
                                         at the end unless --keep.

            EXIT STATUS
                0   Every benchmark ran.
                1   A benchmark failed (the others still ran), or the output could not
                    be written.
                2   Bad options, or not started through bin/qmpx.

            EXAMPLES
                qmpx bench
                qmpx bench latency throughput --latency-n 5000
                qmpx bench fanout --fanout-clients 200 --out /tmp/bench-results

            SEE ALSO
                qmpx proxy --help, qmpx broker --help.
            """;

    public static BenchOptions parse(String[] args, Path home) throws UsageException {
        Set<String> benchmarks = new LinkedHashSet<>();
        Path out = home.resolve("bench/results");
        boolean keep = false;
        int latencyN = 20000, latencyWarmup = 5000, latencyBlock = 500;
        int throughputCommands = 20000, throughputClients = 16, throughputWindow = 8, throughputRounds = 3;
        int fanoutClients = 1000, fanoutRepeats = 50;
        int brokerGrants = 20000;
        List<Integer> brokerLevels = List.of(1, 8, 64);
        int memoryGuests = 100, memoryClients = 10;
        int remoteN = 5000, remoteWsClients = 1000, remoteEvents = 30;
        Arguments a = new Arguments(args);
        while (a.hasNext()) {
            String word = a.next();
            switch (word) {
                case "--out" -> out = Path.of(a.value(word)).toAbsolutePath();
                case "--keep" -> keep = true;
                case "--latency-n" -> latencyN = a.intValue(word, 1, 10_000_000);
                case "--latency-warmup" -> latencyWarmup = a.intValue(word, 0, 10_000_000);
                case "--latency-block" -> latencyBlock = a.intValue(word, 1, 10_000_000);
                case "--throughput-commands" -> throughputCommands = a.intValue(word, 1, 100_000_000);
                case "--throughput-clients" -> throughputClients = a.intValue(word, 1, 1000);
                case "--throughput-window" -> throughputWindow = a.intValue(word, 1, 64);
                case "--throughput-rounds" -> throughputRounds = a.intValue(word, 1, 100);
                case "--fanout-clients" -> fanoutClients = a.intValue(word, 1, 100_000);
                case "--fanout-repeats" -> fanoutRepeats = a.intValue(word, 1, 100_000);
                case "--broker-grants" -> brokerGrants = a.intValue(word, 1, 100_000_000);
                case "--broker-levels" -> brokerLevels = levels(a.value(word));
                case "--memory-guests" -> memoryGuests = a.intValue(word, 1, 1000);
                case "--memory-clients" -> memoryClients = a.intValue(word, 0, 1000);
                case "--remote-n" -> remoteN = a.intValue(word, 1, 10_000_000);
                case "--remote-ws-clients" -> remoteWsClients = a.intValue(word, 1, 100_000);
                case "--remote-events" -> remoteEvents = a.intValue(word, 1, 100_000);
                default -> {
                    if (word.startsWith("-")) {
                        throw UsageException.unknownOption(word, "bench");
                    }
                    if (!ALL.contains(word)) {
                        throw new UsageException("unknown benchmark '" + word + "' (known: " + String.join(", ", ALL) + ")");
                    }
                    benchmarks.add(word);
                }
            }
        }
        if (benchmarks.isEmpty()) {
            benchmarks.addAll(ALL);
        }
        if (throughputCommands < throughputClients) {
            throw new UsageException("--throughput-commands must be at least --throughput-clients");
        }
        return new BenchOptions(benchmarks, out, keep, latencyN, latencyWarmup, latencyBlock,
                throughputCommands, throughputClients, throughputWindow, throughputRounds,
                fanoutClients, fanoutRepeats, brokerGrants, brokerLevels, memoryGuests, memoryClients,
                remoteN, remoteWsClients, remoteEvents);
    }

    private static List<Integer> levels(String text) throws UsageException {
        List<Integer> levels = new ArrayList<>();
        for (String part : text.split(",")) {
            try {
                int level = Integer.parseInt(part.strip());
                if (level < 1 || level > 1000) {
                    throw new UsageException("--broker-levels: each level must be 1 to 1000, got " + level);
                }
                levels.add(level);
            } catch (NumberFormatException e) {
                throw new UsageException("--broker-levels needs numbers separated by commas, got '" + text + "'");
            }
        }
        return List.copyOf(levels);
    }
}
