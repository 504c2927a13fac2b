package dev.qmpx.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real {@code bin/qmpx proxy}, as its own process, with its log in a file. */
final class ProxyProcess implements AutoCloseable {
    static final Path HOME = Path.of(System.getProperty("qmpx.home", "..")).toAbsolutePath().normalize();

    final Process process;
    final Path log;

    private ProxyProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts {@code bin/qmpx proxy ARGS} and waits until every listener accepts. */
    static ProxyProcess start(Path log, List<String> args) throws IOException {
        return start(log, args, null);
    }

    static ProxyProcess start(Path log, List<String> args, List<String> wrapper) throws IOException {
        return start(log, args, wrapper, java.util.Map.of());
    }

    /**
     * @param env extra environment, e.g. QMPX_JAVA_OPTIONS with a fault-injection property
     */
    static ProxyProcess start(Path log, List<String> args, List<String> wrapper, java.util.Map<String, String> env)
            throws IOException {
        List<String> command = new ArrayList<>();
        if (wrapper != null) {
            command.addAll(wrapper);
        }
        command.add(HOME.resolve("bin/qmpx").toString());
        command.add("proxy");
        command.addAll(args);
        if (!args.contains("--state-dir")) {
            // Each test's journals in its own directory, never the machine's default.
            command.add("--state-dir");
            command.add(log.resolveSibling("state").toString());
        }
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(env);
        Process process = builder.start();
        ProxyProcess proxy = new ProxyProcess(process, log);
        long listeners = args.stream().filter(a -> a.equals("--listen") || a.equals("--listen-fd")).count();
        // The proxy logs this once a listener accepts; the socket file alone appears before listen().
        Await.until(listeners + " listeners accepting", Duration.ofSeconds(30),
                () -> !process.isAlive() || proxy.log().split("accepting clients on", -1).length - 1 >= listeners);
        if (!process.isAlive()) {
            throw new IOException("proxy exited with " + process.exitValue() + ":\n" + proxy.log());
        }
        return proxy;
    }

    long pid() {
        return process.pid();
    }

    String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    void awaitLog(String text, Duration timeout) {
        Await.until("proxy log line containing '" + text + "'", timeout, () -> log().contains(text));
    }

    /**
     * Waits until the proxy has logged exactly this many client connections and as many
     * disconnections: every client so far has come and gone, its socket closed by the proxy.
     */
    void awaitClientsGone(int clients) {
        Await.until(clients + " clients connected and disconnected", Duration.ofSeconds(60), () -> {
            String text = log();
            return occurrences(text, " connected (") == clients && occurrences(text, " disconnected (") == clients;
        });
    }

    private static int occurrences(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }

    /**
     * The port a network listener (--listen-tls, --listen-ws, --insecure-listen; given with port 0
     * so that tests never collide) was bound to, from the proxy's log.
     *
     * @param listener the listener's name, e.g. {@code tls:127.0.0.1:0}
     */
    int awaitPort(String listener) {
        java.util.regex.Pattern line = java.util.regex.Pattern.compile(
                "network listener " + java.util.regex.Pattern.quote(listener) + " accepting on \\S+:(\\d+)");
        Await.until("network listener " + listener, Duration.ofSeconds(30),
                () -> !process.isAlive() || line.matcher(log()).find());
        java.util.regex.Matcher found = line.matcher(log());
        if (!found.find()) {
            throw new AssertionError("proxy exited before listening on " + listener + ":\n" + log());
        }
        return Integer.parseInt(found.group(1));
    }

    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("proxy did not exit within " + timeout.toMillis() + " ms; log:\n" + log());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
