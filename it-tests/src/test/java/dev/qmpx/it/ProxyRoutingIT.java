package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several clients on one QEMU: every reply to its own client, in order, none lost, none misrouted. */
class ProxyRoutingIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    @Test
    void concurrentClientsWithInterleavedCommandsGetExactlyTheirOwnReplies() throws Exception {
        int clients = 4;
        int perClient = 1500;
        int batch = 25;
        try (GuestFixture guest = GuestFixture.start()) {
            ExecutorService pool = Executors.newFixedThreadPool(clients + 1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                results.add(pool.submit(() -> runClient(guest, client, perClient, batch)));
            }
            // A fifth client keeps causing events that the others must skip, not mistake for replies.
            Future<Integer> eventMaker = pool.submit(() -> {
                try (QmpClient e = guest.client()) {
                    for (int i = 0; i < 50; i++) {
                        assertEquals("{\"return\": {}, \"id\": " + i + "}",
                                e.execute("{\"execute\": \"" + (i % 2 == 0 ? "stop" : "cont") + "\", \"id\": " + i + "}", TIMEOUT));
                    }
                }
                return 50;
            });
            int total = 0;
            for (Future<Integer> result : results) {
                total += result.get();
            }
            assertEquals(50, eventMaker.get());
            pool.shutdown();
            assertEquals(clients * perClient, total);
            assertFalse(guest.proxy.log().contains("unknown id"), guest.proxy.log());
        }
    }

    /**
     * Pipelines batches of mixed commands with distinct ids, every fifth without one (those go to
     * QEMU without an id and their replies are matched by order); checks each reply's id and content.
     */
    private static int runClient(GuestFixture guest, int client, int count, int batch) throws IOException {
        String[] commands = {"query-status", "query-version", "query-name", "no-such-command"};
        int checked = 0;
        try (QmpClient q = guest.client()) {
            for (int start = 0; start < count; start += batch) {
                StringBuilder out = new StringBuilder();
                for (int i = start; i < start + batch; i++) {
                    String id = id(client, i);
                    out.append("{\"execute\": \"").append(commands[i % 4]).append('"')
                            .append(id == null ? "" : ", \"id\": " + id).append('}');
                }
                q.send(out.toString());
                for (int i = start; i < start + batch; i++) {
                    String reply = q.nextReply(TIMEOUT);
                    String expectedId = id(client, i);
                    String end = expectedId == null ? "}}" : "}, \"id\": " + expectedId + "}";
                    switch (i % 4) {
                        case 0 -> assertTrue(reply.startsWith("{\"return\": {\"status\": ") && reply.endsWith(end), reply);
                        case 1 -> assertTrue(reply.startsWith("{\"return\": {\"qemu\": ") && reply.endsWith(end), reply);
                        case 2 -> assertEquals("{\"return\": {" + end, reply);
                        default -> assertEquals("{" + (expectedId == null ? "" : "\"id\": " + expectedId + ", ")
                                + "\"error\": {\"class\": \"CommandNotFound\", "
                                + "\"desc\": \"The command no-such-command has not been found\"}}", reply);
                    }
                    checked++;
                }
            }
        }
        return checked;
    }

    /** The id of client's i-th command as JSON, or null for none. */
    private static String id(int client, int i) {
        if (i % 5 == 4) {
            return null;
        }
        return switch (i % 3) {
            case 0 -> "\"c" + client + "-" + i + "\"";
            case 1 -> "{\"client\": " + client + ", \"n\": " + i + ".0}";
            default -> Integer.toString(client * 1_000_000 + i);
        };
    }

    @Test
    void aCommandWithoutIdReachesQemuAsItsOwnBytesAndOneWithAnIdWithTheProxysShortId() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--verbose");
             QmpClient client = guest.client()) {
            assertEquals("{\"return\": {}}", client.execute("{ \"execute\" : \"query-name\" }", TIMEOUT));
            assertEquals("{\"return\": {}, \"id\": \"a-long-client-id\"}",
                    client.execute("{\"execute\": \"query-name\", \"id\": \"a-long-client-id\"}", TIMEOUT));
            // QEMU pays per byte it reads (qemu-facts §0.1): no id where the client sent none, a short one otherwise.
            guest.proxy.awaitLog("-> qemu {\"execute\":\"query-name\"}", TIMEOUT);
            guest.proxy.awaitLog("-> qemu {\"execute\":\"query-name\",\"id\":", TIMEOUT);
            assertTrue(guest.proxy.log().lines().filter(line -> line.contains("-> qemu "))
                    .noneMatch(line -> line.contains("a-long-client-id")), "the client's id stays in the proxy");
        }
    }

    @Test
    void aChattyClientCannotStarveAnother() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient chatty = guest.client(); QmpClient quiet = guest.client()) {
            int flood = 3000;
            StringBuilder burst = new StringBuilder();
            for (int i = 0; i < flood; i++) {
                burst.append("{\"execute\": \"query-status\", \"id\": ").append(i).append('}');
            }
            AtomicInteger chattyReplies = new AtomicInteger();
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < flood; i++) {
                        chatty.nextReply(TIMEOUT);
                        chattyReplies.incrementAndGet();
                    }
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });
            chatty.send(burst.toString());
            Await.until("the chatty client's first replies", TIMEOUT, () -> chattyReplies.get() > 0);
            String reply = quiet.execute("{\"execute\": \"query-name\", \"id\": \"quiet\"}", TIMEOUT);
            int chattyDoneBefore = chattyReplies.get();
            assertEquals("{\"return\": {}, \"id\": \"quiet\"}", reply);
            // Round-robin: the quiet client's command waits behind at most the chatty client's
            // in-flight window and its turn, not behind the whole burst.
            assertTrue(chattyDoneBefore < flood / 2,
                    "quiet client answered only after " + chattyDoneBefore + " of " + flood + " chatty replies");
            reader.join(TIMEOUT.toMillis());
            assertEquals(flood, chattyReplies.get());
        }
    }

    @Test
    void aReplyForAClientThatLeftMidCommandReachesNobody() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient bystander = guest.client()) {
            QmpClient leaver = guest.client();
            MainLoopHang hang = MainLoopHang.begin(leaver, guest.dir.path, guest.qemu.pid(), "\"leaver-hang\"");
            bystander.send("{\"execute\": \"query-status\", \"id\": \"queued\"}");
            leaver.close();
            guest.proxy.awaitLog("disconnected (client closed the connection", TIMEOUT);
            hang.release();
            assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": \"queued\"}",
                    bystander.nextReply(TIMEOUT));
            guest.proxy.awaitLog("reply for a departed client dropped", TIMEOUT);
            try (QmpClient newcomer = QmpClient.connect(guest.listen, TIMEOUT)) {
                // QEMU itself would hand the late reply to the next client (qemu-facts §0.4).
                assertEquals("{\"return\": {}}", newcomer.readLineAfter("{\"execute\": \"qmp_capabilities\"}", TIMEOUT));
                assertEquals("{\"return\": {}, \"id\": 1}", newcomer.execute("{\"execute\": \"query-name\", \"id\": 1}", TIMEOUT));
            }
            assertEquals("{\"return\": {}, \"id\": 2}", bystander.execute("{\"execute\": \"query-name\", \"id\": 2}", TIMEOUT));
            assertTrue(bystander.events().isEmpty(), bystander.events().toString());
        }
    }

    @Test
    void aStaleReplyLeftByAnEarlierMonitorClientIsDroppedNotDelivered() throws Exception {
        try (WorkDir dir = new WorkDir();
             var qemu = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of())) {
            // An earlier client of QEMU's monitor leaves with a command still executing.
            QmpClient earlier = QmpClient.negotiated(qemu.socket(), TIMEOUT);
            MainLoopHang hang = MainLoopHang.begin(earlier, dir.path, qemu.pid(), "\"stale\"");
            earlier.close();
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", qemu.socket().toString(), "--listen", dir.resolve("p.sock").toString()))) {
                proxy.awaitLog("connected to QEMU monitor", TIMEOUT);
                hang.release();
                proxy.awaitLog("stale message from QEMU before negotiation, dropped", TIMEOUT);
                try (QmpClient client = QmpClient.negotiated(dir.resolve("p.sock"), TIMEOUT)) {
                    assertEquals("{\"return\": {}, \"id\": \"fresh\"}",
                            client.execute("{\"execute\": \"query-name\", \"id\": \"fresh\"}", TIMEOUT));
                    assertTrue(client.events().isEmpty());
                }
                assertTrue(proxy.log().contains("\"id\": \"stale\""), proxy.log());
            }
        }
    }

    @Test
    void queriesFromOtherClientsWaitButAreNotLostWhileQemuIsBusy() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient busy = guest.client(); QmpClient other = guest.client()) {
            MainLoopHang hang = MainLoopHang.begin(busy, guest.dir.path, guest.qemu.pid(), "\"busy\"");
            other.send("{\"execute\": \"query-status\", \"id\": \"o1\"}");
            // The proxy itself stays responsive: a new client is greeted and negotiates at once.
            try (QmpClient late = QmpClient.connect(guest.listen, TIMEOUT)) {
                assertEquals("{\"return\": {}, \"id\": 9}",
                        late.execute("{\"execute\": \"qmp_capabilities\", \"id\": 9}", TIMEOUT));
            }
            hang.release();
            assertEquals("{\"id\": \"busy\", \"error\": {\"class\": \"GenericError\", \"desc\": \"" + hang.expectedError() + "\"}}",
                    busy.nextReply(TIMEOUT));
            assertTrue(other.nextReply(TIMEOUT).endsWith("\"id\": \"o1\"}"));
        }
    }
}
