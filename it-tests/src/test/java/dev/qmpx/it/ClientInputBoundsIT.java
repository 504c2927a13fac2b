package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.loop.EventLoop;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15, attacks 5 and 6, on a real QEMU and a real proxy: what one client sends cannot cost
 * the guest's loop time or memory out of proportion, the number of unix clients is bounded, and a
 * loop thread that fails ends the process with a clear line instead of dying silently.
 */
class ClientInputBoundsIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String STATUS = "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}";

    /** A 1 MB integer stalled the loop for 13-17 s (BigInteger parsing) before any role check. */
    @Test
    void aMegabyteIntegerDoesNotHoldUpOtherClients() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient bystander = guest.client(); QmpClient attacker = guest.client()) {
            String huge = "7".repeat(1_000_000);
            attacker.send("{\"execute\": \"query-status\", \"id\": " + huge + "}");
            long slowest = 0;
            for (int i = 0; i < 20; i++) {
                long start = System.nanoTime();
                assertEquals("{\"return\": {}, \"id\": " + i + "}",
                        bystander.execute("{\"execute\": \"query-name\", \"id\": " + i + "}", TIMEOUT));
                slowest = Math.max(slowest, (System.nanoTime() - start) / 1_000_000);
            }
            assertTrue(slowest < 2000, "the slowest round trip of another client took " + slowest + " ms");
            // Ids come back as the client sent them (ProxyProtocolIT.idsComeBackByteForByte).
            assertEquals(STATUS + ", \"id\": " + huge + "}", attacker.nextReply(TIMEOUT));

            // As an argument it reaches QEMU, and the answer is QEMU's own, byte for byte.
            String command = "{\"execute\": \"query-status\", \"arguments\": {\"n\": -" + huge + "}, \"id\": 2}";
            try (QmpClient direct = guest.directClient()) {
                assertEquals(direct.execute(command, TIMEOUT), attacker.execute(command, TIMEOUT));
            }
        }
    }

    /**
     * Unfinished commands cost 13 times their size: 10 clients with 1 MB of {@code [0,0,...} each
     * took an OutOfMemoryError with a small heap, which killed the guest's loop thread silently.
     * When a client's blocking send returns, all but a socket buffer (about 200 KB) of its input is
     * in the proxy, so the ten are held at once.
     */
    @Test
    void unfinishedCommandsOfManyClientsFitASmallHeap() throws Exception {
        byte[] unfinished = new byte[1_000_000];
        unfinished[0] = '[';
        for (int i = 1; i < unfinished.length; i++) {
            unfinished[i] = (byte) (i % 2 == 1 ? '0' : ',');
        }
        ExecutorService senders = Executors.newFixedThreadPool(10);
        try (GuestFixture guest = GuestFixture.start(Map.of("QMPX_JAVA_OPTIONS", "-Xmx64m"))) {
            List<QmpClient> attackers = new ArrayList<>();
            try {
                List<Future<?>> sent = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    QmpClient attacker = guest.client();
                    attackers.add(attacker);
                    sent.add(senders.submit(() -> {
                        attacker.send("{\"execute\": \"query-status\", \"id\": ");
                        attacker.send(unfinished);
                        return null;
                    }));
                }
                for (Future<?> f : sent) {
                    f.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                }
                try (QmpClient late = guest.client()) {
                    assertEquals("{\"return\": {}}", late.execute("{\"execute\": \"query-name\"}", TIMEOUT));
                }
                for (QmpClient attacker : attackers) {
                    String reply = attacker.execute("]}", TIMEOUT);
                    assertTrue(reply.startsWith(STATUS + ", \"id\": [0,0,0,") && reply.endsWith(",0]}"),
                            reply.substring(0, Math.min(200, reply.length())));
                }
                assertTrue(guest.proxy.process.isAlive(), guest.proxy.log());
            } finally {
                for (QmpClient attacker : attackers) {
                    attacker.close();
                }
            }
        } finally {
            senders.shutdownNow();
        }
    }

    /** Each unix client may hold a message and an output queue: their number is bounded too. */
    @Test
    void clientsOverMaxClientsAreRefusedWithAnErrorLineAndOthersGoOn() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--max-clients", "3")) {
            List<QmpClient> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    clients.add(guest.client());
                }
                for (int i = 0; i < 2; i++) {
                    try (QmpClient refused = QmpClient.open(guest.listen)) {
                        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: guest qemu has its most"
                                + " admin unix clients (--max-clients 3); try again later\"}}", refused.readLine(TIMEOUT));
                        assertNull(refused.readLine(TIMEOUT), "closed after the error line");
                    }
                }
                guest.proxy.awaitLog("qemu: refused 1 unix client(s) since the last such line: 3 admin clients connected,"
                        + " --max-clients 3",
                        TIMEOUT);
                for (QmpClient client : clients) {
                    assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"query-name\"}", TIMEOUT));
                }
                clients.remove(0).close();
                Await.until("a place freed by a client that left", TIMEOUT, () -> greeted(guest.listen));
            } finally {
                for (QmpClient client : clients) {
                    client.close();
                }
            }
        }
    }

    /**
     * MEDIUM 3: 64 readonly connections that never send anything filled --max-clients, shared by
     * every role, and an admin was refused for as long as they stayed. Admin has slots of its own,
     * and a client that does not negotiate within --negotiation-timeout (default 10 s) is closed.
     */
    @Test
    void silentReadonlyClientsNeverLockAdminOutAndAreClosedAfterTheNegotiationBound() throws Exception {
        try (RolesIT.Split split = RolesIT.Split.start("readonly")) {
            List<QmpClient> silent = new ArrayList<>();
            try {
                long start = System.nanoTime();
                for (int i = 0; i < 64; i++) {
                    QmpClient client = QmpClient.open(split.second());
                    silent.add(client);
                    assertTrue(client.readLine(TIMEOUT).startsWith("{\"QMP\""), "silent client " + i + " greeted");
                }
                try (QmpClient admin = QmpClient.open(split.guest().listen)) {
                    String greeting = admin.readLine(TIMEOUT);
                    assertTrue(greeting.startsWith("{\"QMP\""), "the admin is greeted, not: " + greeting);
                    assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"qmp_capabilities\"}", TIMEOUT));
                    assertEquals(STATUS + "}", admin.execute("{\"execute\": \"query-status\"}", TIMEOUT));
                    try (QmpClient refused = QmpClient.open(split.second())) {
                        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: guest qemu has its most"
                                + " non-admin unix clients (--max-clients 64); try again later\"}}", refused.readLine(TIMEOUT),
                                "the other roles' pool is still bounded");
                    }
                    for (QmpClient client : silent) {
                        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: no qmp_capabilities within"
                                + " 10 s of the greeting (--negotiation-timeout); disconnecting\"}}", client.readLine(TIMEOUT));
                        assertNull(client.readLine(TIMEOUT), "closed after the error line");
                    }
                    long elapsed = (System.nanoTime() - start) / 1_000_000;
                    assertTrue(elapsed >= 10_000, "closed after " + elapsed + " ms, before the bound");
                    assertEquals(STATUS + "}", admin.execute("{\"execute\": \"query-status\"}", TIMEOUT),
                            "a negotiated client stays");
                    assertTrue(greeted(split.second()), "the readonly slots are free again");
                }
            } finally {
                for (QmpClient client : silent) {
                    client.close();
                }
            }
        }
    }

    /**
     * A guest's loop thread that fails (as with the OutOfMemoryError above, here injected) ends the
     * process with status 70 and a line saying why, for its supervisor to restart it.
     */
    @Test
    void aLoopThreadThatFailsEndsTheProcessWithAClearLine() throws Exception {
        try (GuestFixture guest = GuestFixture.start(Map.of("QMPX_JAVA_OPTIONS", "-Dqmpx.fault.loop-error-at-client=2"));
             QmpClient first = guest.client()) {
            assertEquals("{\"return\": {}}", first.execute("{\"execute\": \"query-name\"}", TIMEOUT));
            QmpClient.open(guest.listen).close();
            assertEquals(EventLoop.EXIT_LOOP_FAILED, guest.proxy.awaitExit(TIMEOUT));
            assertTrue(guest.proxy.log().contains("event loop qmpx-qemu failed: java.lang.OutOfMemoryError: fault injection"
                    + " (qmpx.fault.loop-error-at-client): client 2; the process exits with status 70"), guest.proxy.log());
        }
    }

    private static boolean greeted(java.nio.file.Path socket) {
        try (QmpClient next = QmpClient.open(socket)) {
            return next.readLine(TIMEOUT).startsWith("{\"QMP\"");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
