package dev.qmpx.bench;

import javax.net.ssl.SSLSocket;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The network front end: sequential round trips through the same proxy over TLS (--listen-tls,
 * mutual TLS 1.3) and over its unix socket, in alternating blocks; and one event fanned out to N
 * WebSocket clients (--listen-ws, the JDK's own client), timed from the command that causes it.
 */
final class RemoteBench implements Benchmark {
    private static final String COMMAND = "{\"execute\":\"query-status\",\"id\":7}";
    private static final Pattern PORT = Pattern.compile("network listener (\\w+):\\S+ accepting on \\S+:(\\d+)");
    private static final int WARMUP_EVENTS = 4;

    private record Row(String label, Distribution d) {
    }

    @Override
    public Report run(BenchOptions options, Workspace workspace) throws IOException, InterruptedException {
        int n = options.remoteWsClients();
        Proc.requireOpenFiles(n + 200L, "remote with " + n + " WebSocket clients");
        BenchTls tls = BenchTls.create(workspace.subdir("tls"));
        Path qemuDir = workspace.subdir("qemu");
        var qemu = workspace.qemu(qemuDir, List.of());
        Path listen = workspace.dir().resolve("proxy.sock");
        Path log = workspace.dir().resolve("proxy.log");
        List<String> args = new ArrayList<>(List.of("--qemu", qemu.socket().toString(), "--listen", listen.toString(),
                "--guest", "bench", "--state-dir", workspace.dir().resolve("state").toString(),
                "--listen-tls", "127.0.0.1:0", "--listen-ws", "127.0.0.1:0",
                // all n clients come from this one address: the default caps are far below
                "--max-connections", String.valueOf(n + 16), "--max-connections-per-address", String.valueOf(n + 16)));
        args.addAll(tls.proxyOptions());
        Process proxy = workspace.qmpx("proxy", args, log, "accepting clients on", 1);
        int tlsPort = port(log, "tls");
        int wsPort = port(log, "ws");

        TextTable.Builder latency = new TextTable.Builder("Sequential round trips of " + COMMAND + " through the same proxy, "
                + options.remoteRoundTrips() + " per path (µs)", "path", "median", "p90", "p99", "max");
        Distribution unixD;
        Distribution tlsD;
        try (QmpChannel unix = QmpChannel.negotiated(listen);
             SSLSocket socket = (SSLSocket) tls.clientContext().getSocketFactory().createSocket("127.0.0.1", tlsPort)) {
            socket.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = socket.getOutputStream();
            in.readLine();
            byte[] negotiate = "{\"execute\":\"qmp_capabilities\"}".getBytes(StandardCharsets.UTF_8);
            out.write(negotiate);
            QmpChannel.expectReturn(in.readLine(), "qmp_capabilities over TLS");
            ByteBuffer command = QmpChannel.command(COMMAND);
            byte[] commandBytes = COMMAND.getBytes(StandardCharsets.UTF_8);
            long[] unixTimes = new long[options.remoteRoundTrips()];
            long[] tlsTimes = new long[options.remoteRoundTrips()];
            for (int pass = 0; pass < 2; pass++) {
                // The first pass warms both paths up and is thrown away.
                for (int i = 0; i < unixTimes.length; i++) {
                    long start = System.nanoTime();
                    QmpChannel.expectReturn(unix.call(command), "query-status over unix");
                    unixTimes[i] = System.nanoTime() - start;
                    start = System.nanoTime();
                    out.write(commandBytes);
                    QmpChannel.expectReturn(in.readLine(), "query-status over TLS");
                    tlsTimes[i] = System.nanoTime() - start;
                }
            }
            unixD = Distribution.of(unixTimes);
            tlsD = Distribution.of(tlsTimes);
        }
        for (Row row : List.of(new Row("unix socket", unixD), new Row("TLS 1.3 (mutual), netty epoll", tlsD))) {
            latency.row(row.label(), Format.micros(row.d().median()), Format.micros(row.d().percentile(90)),
                    Format.micros(row.d().percentile(99)), Format.micros(row.d().max()));
        }
        List<TextTable> fanout = fanout(options, tls, wsPort, listen, proxy.pid());
        Path chart = options.out().resolve("remote-latency.png");
        new CdfChart("Round trip through one proxy, " + COMMAND.length() + " B: CDF",
                List.of(new CdfChart.Series("unix socket", unixD), new CdfChart.Series("TLS 1.3 (netty, epoll)", tlsD))).write(chart);
        return new Report("remote", List.of(
                "One QEMU and one proxy with a unix listener, --listen-tls and --listen-ws (self-signed keytool "
                        + "certificates, mutual TLS 1.3). Round trips alternate one by one between a unix client and a TLS "
                        + "client (after as many warm-up round trips). Fan-out: " + n + " negotiated WebSocket clients "
                        + "(java.net.http, one HttpClient) receive each event caused by stop/cont from a unix client; "
                        + WARMUP_EVENTS + " warm-up events first."),
                List.of(latency.build(), fanout.get(0), fanout.get(1)), List.of(chart));
    }

    /** @return the fan-out table, and the proxy's memory without and with the idle WebSocket clients */
    private static List<TextTable> fanout(BenchOptions options, BenchTls tls, int wsPort, Path listen, long proxyPid)
            throws IOException, InterruptedException {
        long rssBefore = Proc.rssKib(proxyPid);
        int n = options.remoteWsClients();
        int events = options.remoteEvents();
        HttpClient http = HttpClient.newBuilder().sslContext(tls.clientContext()).build();
        AtomicLongArray arrival = new AtomicLongArray(n);
        // Replaced before each event by the main thread, read by the HttpClient's threads.
        AtomicReference<CountDownLatch> received = new AtomicReference<>(new CountDownLatch(0));
        List<WebSocket> sockets = new ArrayList<>();
        List<CompletableFuture<Void>> negotiated = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int client = i;
            CompletableFuture<Void> ready = new CompletableFuture<>();
            negotiated.add(ready);
            sockets.add(http.newWebSocketBuilder().buildAsync(URI.create("wss://127.0.0.1:" + wsPort + "/qmp"), new WebSocket.Listener() {
                @Override
                public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
                    String text = data.toString();
                    if (text.startsWith("{\"QMP\"")) {
                        socket.sendText("{\"execute\":\"qmp_capabilities\"}", true);
                    } else if (text.startsWith("{\"return\"")) {
                        ready.complete(null);
                    } else if (text.startsWith("{\"timestamp\"")) {
                        arrival.set(client, System.nanoTime());
                        received.get().countDown();
                    }
                    socket.request(1);
                    return null;
                }
            }).join());
        }
        CompletableFuture.allOf(negotiated.toArray(CompletableFuture[]::new)).join();
        long rssWith = Proc.rssKib(proxyPid);
        TextTable memory = new TextTable.Builder("Proxy memory (RSS) with " + n + " idle negotiated WebSocket clients",
                "clients", "RSS (MiB)", "per client (KiB)")
                .row("0", Format.mebibytes(rssBefore), "")
                .row(Integer.toString(n), Format.mebibytes(rssWith), Format.kibibytes((double) (rssWith - rssBefore) / n))
                .build();
        long[] median = new long[events];
        long[] last = new long[events];
        try (QmpChannel trigger = QmpChannel.negotiated(listen)) {
            for (int r = -WARMUP_EVENTS; r < events; r++) {
                received.set(new CountDownLatch(n));
                long start = System.nanoTime();
                QmpChannel.expectReturn(trigger.call(QmpChannel.command((r + WARMUP_EVENTS) % 2 == 0
                        ? "{\"execute\":\"stop\"}" : "{\"execute\":\"cont\"}")), "stop/cont");
                if (!received.get().await(30, TimeUnit.SECONDS)) {
                    throw new IOException(received.get().getCount() + " of " + n + " WebSocket clients got no event within 30 s");
                }
                if (r >= 0) {
                    long[] times = new long[n];
                    for (int i = 0; i < n; i++) {
                        times[i] = arrival.get(i) - start;
                    }
                    Arrays.sort(times);
                    median[r] = times[(n - 1) / 2];
                    last[r] = times[n - 1];
                }
            }
        } finally {
            sockets.forEach(WebSocket::abort);
            http.close();
        }
        TextTable.Builder table = new TextTable.Builder("One event to " + n + " WebSocket clients, " + events
                + " events (ms from sending the command)", "until", "p50", "p99", "max");
        for (Row row : List.of(new Row("the median client read it", Distribution.of(median)),
                new Row("the last of " + n + " clients read it", Distribution.of(last)))) {
            table.row(row.label(), Format.millis(row.d().median()), Format.millis(row.d().percentile(99)),
                    Format.millis(row.d().max()));
        }
        return List.of(table.build(), memory);
    }

    private static int port(Path log, String kind) throws IOException {
        Matcher found = PORT.matcher(Files.readString(log));
        while (found.find()) {
            if (found.group(1).equals(kind)) {
                return Integer.parseInt(found.group(2));
            }
        }
        throw new IOException("the proxy did not log its " + kind + " listener:\n" + Files.readString(log));
    }
}
