package dev.qmpx.proxy.demo;

import dev.qmpx.client.QmpClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code qmpx demo}: a real QEMU, the real proxy as its own process, and two clients sharing the one
 * monitor QEMU allows. Prints every line each client sends and receives.
 */
public final class Demo {
    public static final String HELP = """
            NAME
                qmpx demo - show the proxy at work: a real QEMU, two clients

            SYNOPSIS
                qmpx demo [--keep]

            DESCRIPTION
                Starts qemu-system-x86_64 (-M none, no guest OS needed), starts
                `qmpx proxy` in front of its QMP socket, connects two clients A and B,
                prints every line each client sends and receives, and shows:
                  - both clients get QEMU's greeting and negotiate for themselves;
                  - each client's ids come back exactly as sent (strings, objects, 1.50,
                    -0, 1e2);
                  - STOP and RESUME events caused by one client reach both;
                  - malformed input is answered like QEMU would, and the session goes
                    on;
                  - quit through the proxy: SHUTDOWN reaches both clients, QEMU exits,
                    the proxy exits.
                Then it prints the proxy's log.

            OPTIONS
                --keep      Keep the temporary directory (below).
                -h, --help  Show this text.

            FILES
                /tmp/qmpx-demo-*/
                            Everything the demo runs: QEMU's socket and log, the
                            proxy's socket and log; removed at the end unless --keep.

            EXIT STATUS
                0   The demo ran to its end.
                1   A step failed (the message says which).

            SEE ALSO
                qmpx proxy --help, qmpx shell --help.
            """;

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private Demo() {
    }

    public static int run(String[] args) throws IOException, InterruptedException {
        boolean keep = args.length > 0 && args[0].equals("--keep");
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "qmpx-demo-");
        Process proxy = null;
        try (QemuProcess qemu = QemuProcess.start(dir, List.of())) {
            say("QEMU %s running (pid %d), monitor %s", QemuProcess.BINARY, qemu.pid(), qemu.socket());
            Path listen = dir.resolve("proxy.sock");
            proxy = startProxy(qemu.socket(), listen, dir.resolve("proxy.log"));
            waitForSocket(listen, proxy);
            say("qmpx proxy running (pid %d), clients connect to %s", proxy.pid(), listen);
            try (QmpClient a = QmpClient.connect(listen, TIMEOUT); QmpClient b = QmpClient.connect(listen, TIMEOUT)) {
                System.out.println();
                show("A", "<-", a.greeting());
                show("B", "<-", b.greeting());
                exchange("A", a, "{\"execute\": \"qmp_capabilities\", \"id\": \"a-neg\"}");
                exchange("B", b, "{\"execute\": \"query-status\", \"id\": 1}");
                exchange("B", b, "{\"execute\": \"qmp_capabilities\", \"id\": {\"client\": \"B\", \"n\": 1.50}}");

                title("ids come back exactly as each client sent them");
                exchange("A", a, "{\"execute\": \"query-status\", \"id\": \"caf\\u00e9-1\"}");
                exchange("B", b, "{\"execute\": \"query-status\", \"id\": -0}");
                exchange("B", b, "{\"execute\": \"query-version\", \"id\": 1e2}");

                title("events reach every client");
                exchange("A", a, "{\"execute\": \"stop\", \"id\": \"a-stop\"}");
                show("B", "<-", b.awaitEvent("STOP", TIMEOUT));
                exchange("B", b, "{\"execute\": \"cont\", \"id\": \"b-cont\"}");
                show("A", "<-", a.awaitEvent("RESUME", TIMEOUT));

                title("malformed input is answered as QEMU answers it; the session goes on");
                exchange("A", a, "{\"execute\": }\n");
                exchange("A", a, "{\"execute\": \"query-status\", \"foo\": 1, \"id\": 7}");
                exchange("A", a, "{\"execute\": \"query-status\", \"id\": 8}");

                title("quit through the proxy");
                exchange("A", a, "{\"execute\": \"quit\", \"id\": \"bye\"}");
                show("B", "<-", b.awaitEvent("SHUTDOWN", TIMEOUT));
                if (!qemu.process().waitFor(10, TimeUnit.SECONDS)) {
                    throw new IOException("QEMU did not exit after quit");
                }
                say("QEMU exited with status %d", qemu.process().exitValue());
                if (!proxy.waitFor(10, TimeUnit.SECONDS)) {
                    throw new IOException("the proxy did not exit after QEMU went away");
                }
                say("qmpx proxy exited with status %d (3: QEMU went away; --reconnect would wait)", proxy.exitValue());
            }
            System.out.println();
            say("proxy log (%s):", dir.resolve("proxy.log"));
            System.out.print(Files.readString(dir.resolve("proxy.log")));
            System.out.println();
            say("demo finished: one QEMU monitor served two clients.");
            return 0;
        } finally {
            if (proxy != null && proxy.isAlive()) {
                proxy.destroyForcibly();
            }
            if (!keep) {
                deleteTree(dir);
            } else {
                say("kept %s", dir);
            }
        }
    }

    private static Process startProxy(Path qemuSocket, Path listen, Path log) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("--enable-native-access=ALL-UNNAMED");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("dev.qmpx.proxy.cli.Launcher");
        command.addAll(List.of("proxy", "--qemu", qemuSocket.toString(), "--listen", listen.toString(),
                "--guest", "demo", "--verbose"));
        return new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }

    private static void waitForSocket(Path socket, Process proxy) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!Files.exists(socket)) {
            if (!proxy.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("the proxy did not start listening on " + socket);
            }
            proxy.waitFor(10, TimeUnit.MILLISECONDS);
        }
    }

    private static void exchange(String who, QmpClient client, String command) throws IOException {
        show(who, "->", command.strip());
        client.send(command);
        String reply = client.nextReply(TIMEOUT);
        for (String event : client.events()) {
            show(who, "<-", event);
        }
        client.events().clear();
        show(who, "<-", reply);
    }

    private static void show(String who, String direction, String line) {
        System.out.println("  " + who + " " + direction + " " + line);
    }

    private static void title(String text) {
        System.out.println();
        System.out.println("== " + text);
    }

    private static void say(String format, Object... args) {
        System.out.println("qmpx demo: " + String.format(format, args));
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
