package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Clients trying to crash the proxy or reach each other's fds (each case once reproduced by a review). */
class HostileClientsIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    @Test
    void leavingWithAnFdCommandStillQueuedDoesNotCrashTheProxy() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient bystander = guest.client();
             FileOutputStream file = new FileOutputStream(guest.dir.resolve("f").toFile())) {
            for (int i = 0; i < 5; i++) {
                QmpClient leaver = guest.client();
                // The getfd waits behind the schema query (an fd command goes alone), then the client leaves.
                leaver.sendWithFds("{\"execute\": \"query-qmp-schema\"}{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}}",
                        file.getFD());
                leaver.close();
                assertEquals("{\"return\": {}, \"id\": " + i + "}",
                        bystander.execute("{\"execute\": \"query-name\", \"id\": " + i + "}", TIMEOUT));
            }
            assertTrue(guest.proxy.process.isAlive());
            assertTrue(!guest.proxy.log().contains("Exception"), guest.proxy.log());
        }
    }

    @Test
    void oversizedNumbersInFdsetReferencesDoNotCrashTheProxy() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient client = guest.client()) {
            assertTrue(client.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"fd:/dev/fdset/99999999999999999999\"}}",
                    TIMEOUT).startsWith("{\"error\": "));
            assertTrue(client.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"n\", "
                    + "\"filename\": \"/dev/fdset/99999999999999999999\"}}", TIMEOUT).startsWith("{\"error\": "));
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"query-name\"}", TIMEOUT));
            assertTrue(guest.proxy.process.isAlive());
        }
    }

    @Test
    void anotherClientsFdsetCannotBeReachedThroughPathsQemuAlsoParses() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient owner = guest.client(); QmpClient other = guest.client();
             FileOutputStream secret = new FileOutputStream(guest.dir.resolve("secret").toFile())) {
            owner.sendWithFds("{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 0}}", secret.getFD());
            assertTrue(owner.nextReply(TIMEOUT).startsWith("{\"return\": {\"fd\": "));
            for (String path : List.of("/dev/fdset/+0", "/dev/fdset/ 0", "/dev/fdset/-0")) {
                String reply = other.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"n\", "
                        + "\"filename\": \"" + path + "\"}}", TIMEOUT);
                assertTrue(reply.contains("mentions /dev/fdset/ in a form the proxy cannot map"), path + ": " + reply);
            }
            // Read as QEMU reads it, the json: name is plainly the owner's set 0, which this client does not have.
            String json = other.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"n\", "
                    + "\"filename\": \"json:{\\\"file.filename\\\": \\\"/dev/fdset/0\\\"}\"}}", TIMEOUT);
            assertTrue(json.contains("no such fdset for this client"), json);
            String dump = other.execute("{\"execute\": \"dump-guest-memory\", \"arguments\": {\"paging\": false, "
                    + "\"protocol\": \"file:/dev/fdset/0\"}}", TIMEOUT);
            assertTrue(dump.contains("no such fdset for this client"), dump);
            assertTrue(other.execute("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": "
                    + "\"drive_add 0 if=none,id=d,file=/dev/fdset/0\"}}", TIMEOUT).contains("mentions /dev/fdset/"));
            assertTrue(other.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"n\", "
                    + "\"filename\": \"/dev/fdset/0\"}}", TIMEOUT).contains("no such fdset for this client"));
        }
    }

    @Test
    void rawQemuFdNumbersAreRefused() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient client = guest.client()) {
            for (String command : List.of(
                    "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": \"socket\", \"id\": \"n\", \"fd\": \"3\"}}",
                    "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": \"tap\", \"id\": \"t\", \"fds\": \"a:4\"}}",
                    "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"fd:5\"}}",
                    "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"c\", \"backend\": {\"type\": \"socket\", \"data\": "
                            + "{\"addr\": {\"type\": \"fd\", \"data\": {\"str\": \"6\"}}}}}}")) {
                assertTrue(client.execute(command, TIMEOUT).contains("names a raw QEMU fd number"), command);
            }
        }
    }

    @Test
    void anFdJoinsTheLastFrameOfTheReadItCameWith() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient client = guest.client();
             FileOutputStream x = new FileOutputStream(guest.dir.resolve("x").toFile());
             FileOutputStream y = new FileOutputStream(guest.dir.resolve("y").toFile())) {
            // X arrives on its own and waits, as QEMU allows.
            client.sendWithFds(" ", x.getFD());
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"query-name\"}", TIMEOUT));
            // Two add-fd, the second with Y, glued into one read while the proxy is stopped.
            signal(guest.proxy.pid(), "STOP");
            try {
                client.send("{\"execute\": \"add-fd\", \"id\": \"first\"}");
                client.sendWithFds("{\"execute\": \"add-fd\", \"id\": \"second\"}", y.getFD());
            } finally {
                signal(guest.proxy.pid(), "CONT");
            }
            assertEquals(guest.dir.resolve("x"), target(guest, client.nextReply(TIMEOUT)));
            assertEquals(guest.dir.resolve("y"), target(guest, client.nextReply(TIMEOUT)));
        }
    }

    private static Path target(GuestFixture guest, String reply) throws IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"fd\": (\\d+)").matcher(reply);
        assertTrue(m.find(), reply);
        return Files.readSymbolicLink(Path.of("/proc/" + guest.qemu.pid() + "/fd/" + m.group(1)));
    }

    private static void signal(long pid, String signal) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start().waitFor());
    }

    @Test
    void afterQemuDiesCleanupNeverBlocksTheReconnectedMonitor() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            var first = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of());
            Path listen = dir.resolve("p.sock");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", first.socket().toString(), "--listen", listen.toString(), "--reconnect"));
                 FileOutputStream file = new FileOutputStream(dir.resolve("f").toFile())) {
                QmpClient client = QmpClient.negotiated(listen, TIMEOUT);
                for (int i = 0; i < 8; i++) {
                    client.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"n" + i + "\"}}", file.getFD());
                    assertEquals("{\"return\": {}}", client.nextReply(TIMEOUT));
                }
                first.kill();
                client.close();
                proxy.awaitLog("waiting for QEMU to come back", TIMEOUT);
                try (var second = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of());
                     QmpClient again = QmpClient.negotiated(listen, TIMEOUT)) {
                    assertEquals("{\"return\": {}}", again.execute("{\"execute\": \"query-name\"}", TIMEOUT));
                }
            }
        }
    }

    /** A FAKE broker, for a fault a real one cannot produce on demand: it accepts and never answers. */
    @Test
    void aBrokerThatNeverAnswersIsGivenUpOnAndTheClientGoesOn() throws Exception {
        try (WorkDir dir = new WorkDir();
             org.newsclub.net.unix.AFUNIXServerSocket silent = org.newsclub.net.unix.AFUNIXServerSocket.bindOn(
                     org.newsclub.net.unix.AFUNIXSocketAddress.of(dir.resolve("silent.sock")))) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    java.util.List<Object> held = new java.util.ArrayList<>();
                    while (true) {
                        held.add(silent.accept());
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            try (var qemu = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of());
                 ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--qemu", qemu.socket().toString(),
                         "--listen", dir.resolve("p.sock").toString(), "--broker", dir.resolve("silent.sock").toString(),
                         "--broker-timeout", "1"));
                 QmpClient client = QmpClient.negotiated(dir.resolve("p.sock"), TIMEOUT)) {
                String reply = client.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", "
                        + "\"node-name\": \"n\", \"filename\": \"/nonexistent.img\"}, \"id\": 1}", TIMEOUT);
                assertTrue(reply.startsWith("{\"id\": 1, \"error\": ") && reply.contains("is not reachable"), reply);
                assertEquals("{\"return\": {}, \"id\": 2}", client.execute("{\"execute\": \"query-name\", \"id\": 2}", TIMEOUT));
            }
        }
    }

    @Test
    void runningOutOfFdsPausesAcceptingInsteadOfSpinning() throws Exception {
        try (WorkDir dir = new WorkDir(); var qemu = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of())) {
            Path listen = dir.resolve("p.sock");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", qemu.socket().toString(), "--listen", listen.toString()), List.of("prlimit", "--nofile=64:64"))) {
                QmpClient.negotiated(listen, TIMEOUT).close();
                java.util.List<AFUNIXSocketChannel> flood = new java.util.ArrayList<>();
                try {
                    // Until the proxy has no fd left to accept with and its listen backlog is full too:
                    // then a non-blocking connect does not complete (a blocking one would wait for
                    // ever). How many fds the JVM itself holds varies, so the count is not fixed.
                    for (int i = 0; i < 500; i++) {
                        AFUNIXSocketChannel channel = AFUNIXSocketChannel.open();
                        channel.configureBlocking(false);
                        boolean connected;
                        try {
                            connected = channel.connect(AFUNIXSocketAddress.of(listen));
                        } catch (IOException backlogFull) {
                            connected = false;
                        }
                        if (!connected) {
                            channel.close();
                            break;
                        }
                        flood.add(channel);
                    }
                    proxy.awaitLog("accept on " + listen + " failed", TIMEOUT);
                } finally {
                    for (AFUNIXSocketChannel channel : flood) {
                        channel.close();
                    }
                }
                // Once fds are free again the listener is served again.
                Await.until("a client served after the flood", TIMEOUT, () -> {
                    try (QmpClient c = QmpClient.negotiated(listen, Duration.ofSeconds(2))) {
                        return c.execute("{\"execute\": \"query-name\"}", Duration.ofSeconds(2)).equals("{\"return\": {}}");
                    } catch (IOException e) {
                        return false;
                    }
                });
                assertTrue(proxy.process.isAlive());
                // Rate-limited: at most one warning per 10 s, not one per failed accept.
                assertTrue(count(proxy.log(), "accept on " + listen + " failed") <= 2, proxy.log());
            }
        }
    }

    private static int count(String text, String part) {
        return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }

    @Test
    void sigtermStopsTheProxyWithStatusZeroAndRemovesItsSocket() throws Exception {
        try (GuestFixture guest = GuestFixture.start()) {
            guest.proxy.process.destroy();
            assertTrue(guest.proxy.process.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, guest.proxy.process.exitValue(), guest.proxy.log());
            assertTrue(!Files.exists(guest.listen));
        }
    }
}
