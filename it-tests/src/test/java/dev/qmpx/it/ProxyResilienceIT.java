package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Clients and QEMU misbehaving or going away; the proxy's sockets and fds. */
class ProxyResilienceIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    @Test
    void aClientThatStopsReadingIsDisconnectedAndOthersAreUnaffected() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--client-output-limit", "1048576");
             QmpClient fast = guest.client(); QmpClient slow = guest.client()) {
            StringBuilder flood = new StringBuilder();
            for (int i = 0; i < 60; i++) {
                flood.append("{\"execute\": \"query-qmp-schema\", \"id\": ").append(i).append('}');
            }
            slow.send(flood.toString());
            for (int i = 0; i < 200; i++) {
                assertEquals("{\"return\": {}, \"id\": " + i + "}",
                        fast.execute("{\"execute\": \"query-name\", \"id\": " + i + "}", TIMEOUT));
            }
            guest.proxy.awaitLog("disconnecting a client that does not read its replies", TIMEOUT);
            // What was already in the socket can still be read; then the proxy's close shows as EOF.
            String line;
            int lines = 0;
            while ((line = slow.readLine(TIMEOUT)) != null) {
                lines++;
                assertTrue(line.contains("\"return\": [") || line.isEmpty() || !line.startsWith("{\"error\""), line);
            }
            assertTrue(lines < 60, "the slow client was cut off before all replies: " + lines);
            assertEquals("{\"return\": {}, \"id\": \"after\"}", fast.execute("{\"execute\": \"query-name\", \"id\": \"after\"}", TIMEOUT));
        }
    }

    @Test
    void qemuKilledMidCommandFailsWhatIsInFlightTellsClientsAndExitsNonZero() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient a = guest.client(); QmpClient b = guest.client()) {
            MainLoopHang.begin(a, guest.dir.path, guest.qemu.pid(), "\"a1\"");
            b.send("{\"execute\": \"query-status\", \"id\": \"b1\"}");
            guest.qemu.kill();
            assertEquals("{\"id\": \"a1\", \"error\": {\"class\": \"GenericError\", \"desc\": "
                    + "\"qmpx: QEMU closed the monitor before replying\"}}", a.nextReply(TIMEOUT));
            assertEquals("{\"id\": \"b1\", \"error\": {\"class\": \"GenericError\", \"desc\": "
                    + "\"qmpx: QEMU closed the monitor before replying\"}}", b.nextReply(TIMEOUT));
            for (QmpClient client : List.of(a, b)) {
                assertTrue(client.nextReply(TIMEOUT).startsWith(
                        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: connection to QEMU lost: "));
                assertNull(client.readLine(TIMEOUT), "then the proxy closes the connection");
            }
            assertEquals(3, guest.proxy.awaitExit(TIMEOUT));
            assertTrue(guest.proxy.log().contains("lost QEMU monitor"), guest.proxy.log());
        }
    }

    @Test
    void quitThroughTheProxyDeliversShutdownAndReplyThenEnds() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient a = guest.client(); QmpClient b = guest.client()) {
            a.send("{\"execute\": \"quit\", \"id\": \"bye\"}");
            assertTrue(a.readLine(TIMEOUT).contains("\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}"));
            assertEquals("{\"return\": {}, \"id\": \"bye\"}", a.readLine(TIMEOUT));
            assertTrue(b.awaitEvent("SHUTDOWN", TIMEOUT).contains("host-qmp-quit"));
            assertTrue(guest.qemu.process().waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, guest.qemu.process().exitValue());
            assertEquals(3, guest.proxy.awaitExit(TIMEOUT));
            assertTrue(guest.proxy.log().contains("QEMU shut down"), guest.proxy.log());
        }
    }

    @Test
    void withReconnectTheProxyWaitsForQemuAndServesAgain() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            QemuProcess first = QemuProcess.start(dir.path, List.of());
            Path listen = dir.resolve("p.sock");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", first.socket().toString(), "--listen", listen.toString(), "--reconnect"))) {
                String firstGreeting;
                try (QmpClient client = QmpClient.negotiated(listen, TIMEOUT)) {
                    firstGreeting = client.greeting();
                    first.kill();
                    assertTrue(client.nextReply(TIMEOUT).contains("qmpx: connection to QEMU lost"));
                    assertNull(client.readLine(TIMEOUT));
                }
                proxy.awaitLog("waiting for QEMU to come back", TIMEOUT);
                assertTrue(proxy.process.isAlive());
                try (QemuProcess second = QemuProcess.start(dir.path, List.of("-name", "second"));
                     QmpClient client = QmpClient.negotiated(listen, TIMEOUT)) {
                    assertEquals(firstGreeting, client.greeting());
                    assertEquals("{\"return\": {\"name\": \"second\"}, \"id\": 1}",
                            client.execute("{\"execute\": \"query-name\", \"id\": 1}", TIMEOUT));
                }
            }
        }
    }

    @Test
    void listensOnAnInheritedFdAndAPathAtOnceAndKeepsAccepting() throws Exception {
        try (WorkDir dir = new WorkDir(); QemuProcess qemu = QemuProcess.start(dir.path, List.of())) {
            Path inherited = dir.resolve("inherited.sock");
            Path bound = dir.resolve("bound.sock");
            // The parent binds and listens, then passes the socket as fd 3, as libvirt-like tools do.
            List<String> wrapper = List.of("python3", "-c", """
                    import os, socket, sys
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.bind(sys.argv[1]); s.listen(16)
                    os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
                    os.execvp(sys.argv[2], sys.argv[2:])
                    """, inherited.toString());
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", qemu.socket().toString(), "--listen-fd", "3", "--listen", bound.toString()), wrapper)) {
                for (int round = 0; round < 5; round++) {
                    for (Path socket : List.of(inherited, bound)) {
                        try (QmpClient client = QmpClient.negotiated(socket, TIMEOUT)) {
                            assertEquals("{\"return\": {}, \"id\": " + round + "}",
                                    client.execute("{\"execute\": \"query-name\", \"id\": " + round + "}", TIMEOUT));
                        }
                    }
                }
                assertTrue(proxy.log().contains("accepting clients on fd 3"), proxy.log());
            }
        }
    }

    @Test
    void proxyFdsReturnToBaselineAfterAThousandClientCycles() throws Exception {
        try (GuestFixture guest = GuestFixture.start()) {
            for (int i = 0; i < 20; i++) {
                cycle(guest, i);
            }
            guest.proxy.awaitClientsGone(20);
            Map<Integer, String> baseline = ProcFds.targets(guest.proxy.pid());
            for (int i = 0; i < 1000; i++) {
                cycle(guest, i);
            }
            guest.proxy.awaitClientsGone(1020);
            ProcFds.awaitCount("the proxy after 1000 client cycles", guest.proxy.pid(), baseline, TIMEOUT);
            try (QmpClient client = guest.client()) {
                assertEquals("{\"return\": {}, \"id\": 1}", client.execute("{\"execute\": \"query-name\", \"id\": 1}", TIMEOUT));
            }
        }
    }

    /** Connect and leave in one of four ways: at once, after negotiating, after a reply, mid-command. */
    private static void cycle(GuestFixture guest, int i) throws IOException {
        switch (i % 4) {
            case 0 -> QmpClient.open(guest.listen).close();
            case 1 -> guest.client().close();
            case 2 -> {
                try (QmpClient client = guest.client()) {
                    assertEquals("{\"return\": {}, \"id\": " + i + "}",
                            client.execute("{\"execute\": \"query-name\", \"id\": " + i + "}", TIMEOUT));
                }
            }
            default -> {
                try (QmpClient client = guest.client()) {
                    client.send("{\"execute\": \"query-status\", \"id\": " + i + "}{\"execute\": \"query-s");
                }
            }
        }
    }

    /** The proxy logs each client's connect and disconnect; all of them have happened. */
    @Test
    void badOptionsAndSocketsAreRefusedWithExitStatusTwo() throws Exception {
        try (WorkDir dir = new WorkDir(); QemuProcess qemu = QemuProcess.start(dir.path, List.of())) {
            assertRefused(dir, List.of("--listen", dir.resolve("x.sock").toString()), "--qemu SOCKET (or --config FILE) is required");
            assertRefused(dir, List.of("--qemu", qemu.socket().toString()), "at least one --listen");
            assertRefused(dir, List.of("--qemu", qemu.socket().toString(), "--listen", qemu.socket().toString()),
                    "is in use: another process accepts connections on it");
            Files.writeString(dir.resolve("plain"), "not a socket");
            assertRefused(dir, List.of("--qemu", qemu.socket().toString(), "--listen", dir.resolve("plain").toString()),
                    "exists and is not a socket");
            assertRefused(dir, List.of("--qemu", qemu.socket().toString(), "--listen-fd", "99"), "fd 99");
            assertRefused(dir, List.of("--qemu", qemu.socket().toString(), "--listen", "x", "--max-in-flight", "0"),
                    "--max-in-flight must be between 1 and 64");
            assertRefused(dir, List.of("--bogus"), "unknown option '--bogus'");
        }
    }

    private static void assertRefused(WorkDir dir, List<String> args, String message) throws Exception {
        Path log = dir.resolve("refused.log");
        List<String> command = new java.util.ArrayList<>(List.of(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "proxy"));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String output = Files.readString(log);
        assertEquals(2, p.exitValue(), output);
        assertTrue(output.contains(message), "expected '" + message + "' in: " + output);
    }

    @Test
    void aStaleSocketFileAtTheListenPathIsReplaced() throws Exception {
        try (WorkDir dir = new WorkDir(); QemuProcess qemu = QemuProcess.start(dir.path, List.of())) {
            Path listen = dir.resolve("p.sock");
            Process stale = new ProcessBuilder("python3", "-c",
                    "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", listen.toString()).start();
            assertEquals(0, stale.waitFor());
            assertTrue(Files.exists(listen));
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", qemu.socket().toString(), "--listen", listen.toString()));
                 QmpClient client = QmpClient.negotiated(listen, TIMEOUT)) {
                assertEquals("{\"return\": {}, \"id\": 1}", client.execute("{\"execute\": \"query-name\", \"id\": 1}", TIMEOUT));
                assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(listen)));
            }
        }
    }
}
