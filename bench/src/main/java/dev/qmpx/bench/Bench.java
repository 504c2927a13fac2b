package dev.qmpx.bench;

import dev.qmpx.broker.cli.UsageException;
import dev.qmpx.proxy.cli.Launcher;
import dev.qmpx.proxy.demo.QemuProcess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qmpx bench}: runs the selected benchmarks one after another on the main thread, prints
 * their tables and writes results.md and the charts. A failing benchmark is reported and the others
 * still run; the exit status is then 1.
 */
public final class Bench {
    private Bench() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length > 0 && Launcher.isHelp(args[0])) {
            System.out.print(BenchOptions.HELP);
            return 0;
        }
        Path home = Path.of(System.getProperty("qmpx.home", ".")).toAbsolutePath().normalize();
        try {
            if (!Files.isExecutable(home.resolve("bin/qmpx"))) {
                throw new UsageException("no bin/qmpx under " + home + " (run through bin/qmpx bench, which sets -Dqmpx.home)");
            }
            BenchOptions options = BenchOptions.parse(args, home);
            System.setProperty("java.awt.headless", "true");
            Files.createDirectories(options.out());
            Machine machine = Machine.detect(QemuProcess.BINARY);
            System.out.println(machine.table().plain());
            List<Report> reports = new ArrayList<>();
            boolean failed = false;
            for (String name : options.benchmarks()) {
                System.out.println("== " + name);
                long start = System.nanoTime();
                try (Workspace workspace = Workspace.create(name, home, options.keep())) {
                    Report report = benchmark(name).run(options, workspace);
                    reports.add(report);
                    print(report);
                } catch (IOException | RuntimeException e) {
                    failed = true;
                    System.out.println("qmpx bench " + name + " failed: " + e);
                    e.printStackTrace();
                }
                System.out.printf("(%s took %.1f s)%n%n", name, (System.nanoTime() - start) / 1e9);
            }
            Path results = ResultsFile.write(options.out(), machine, reports);
            System.out.println("results: " + results);
            return failed ? 1 : 0;
        } catch (UsageException e) {
            System.err.println("qmpx bench: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            System.err.println("qmpx bench: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static Benchmark benchmark(String name) {
        return switch (name) {
            case "latency" -> new LatencyBench();
            case "throughput" -> new ThroughputBench();
            case "fanout" -> new FanoutBench();
            case "broker" -> new BrokerBench();
            case "memory" -> new MemoryBench();
            case "remote" -> new RemoteBench();
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static void print(Report report) {
        for (String note : report.notes()) {
            System.out.println(note);
        }
        System.out.println();
        for (TextTable table : report.tables()) {
            System.out.println(table.plain());
        }
        for (Path chart : report.charts()) {
            System.out.println("chart: " + chart);
        }
    }
}
