package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** libvirt's THREADS lessons for external clients: the job, reply timeouts, roles, the audit. */
class JobsAndPolicyIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String PAUSED = "{\"return\": {\"status\": \"paused\", \"singlestep\": false, \"running\": false}";

    @Test
    void queriesFlowWhileAClientHoldsTheJobAndModifyCommandsWaitForIt() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient holder = guest.client(); QmpClient other = guest.client();
             QmpClient observer = guest.client()) {
            assertEquals("{\"return\": {}, \"id\": 1}", holder.execute("{\"execute\": \"__dev.qmpx_job-begin\", \"id\": 1}", TIMEOUT));
            // Another client's queries are answered at once while the job is held...
            for (int i = 0; i < 20; i++) {
                assertTrue(other.execute("{\"execute\": \"query-status\", \"id\": " + i + "}", TIMEOUT).endsWith("\"id\": " + i + "}"));
            }
            // ...its modify command waits (visible in __dev.qmpx_clients), and runs once the job is released.
            other.send("{\"execute\": \"stop\", \"id\": \"waiting\"}");
            Await.until("the stop to wait for the job", TIMEOUT, () -> clients(observer).contains("\"waiting-for-job\": true"));
            String listing = clients(observer);
            assertTrue(listing.contains("\"job\": {\"holder\": \"client#"), listing);
            assertTrue(listing.contains("\"explicit\": true"), listing);
            assertTrue(listing.contains("\"role\": \"admin\""), listing);
            assertTrue(holder.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
            assertEquals("{\"return\": {}, \"id\": 2}", holder.execute("{\"execute\": \"__dev.qmpx_job-end\", \"id\": 2}", TIMEOUT));
            assertEquals("{\"return\": {}, \"id\": \"waiting\"}", other.nextReply(TIMEOUT));
            assertTrue(holder.awaitEvent("STOP", TIMEOUT).contains("STOP"));
            assertEquals("{\"return\": {}}", other.execute("{\"execute\": \"cont\"}", TIMEOUT));
            String commands = observer.execute("{\"execute\": \"query-commands\"}", TIMEOUT);
            for (String own : List.of("__dev.qmpx_clients", "__dev.qmpx_job-begin", "__dev.qmpx_job-end", "query-status")) {
                assertTrue(commands.contains("{\"name\": \"" + own + "\"}"), own);
            }
        }
    }

    /** The __dev.qmpx_clients listing, as the given client gets it. */
    static String clients(QmpClient client) {
        try {
            return client.execute("{\"execute\": \"__dev.qmpx_clients\"}", TIMEOUT);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aJobGroupExcludesOtherModifiersAndTheWaitBoundNamesTheHolder() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--job-wait", "1.5");
             QmpClient a = guest.client(); QmpClient b = guest.client()) {
            assertEquals("{\"return\": {}}", a.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
            assertEquals("{\"return\": {}}", a.execute("{\"execute\": \"stop\"}", TIMEOUT));
            b.send("{\"execute\": \"cont\", \"id\": \"b-cont\"}");
            // B's cont cannot slip in between A's commands: A still sees its own stop in effect.
            assertTrue(a.execute("{\"execute\": \"query-status\"}", TIMEOUT).startsWith(PAUSED));
            String refused = b.nextReply(TIMEOUT);
            assertTrue(Pattern.matches("\\{\"id\": \"b-cont\", \"error\": \\{\"class\": \"GenericError\", \"desc\": "
                    + "\"qmpx: 'cont' waited 1\\.5 s for the guest's job, held by client#\\d+ \\(pid \\d+, uid 0\\) with "
                    + "__dev.qmpx_job-begin, last running 'stop', for \\d+\\.\\d s\"}}", refused), refused);
            // Nothing was sent upstream for it: the guest is still paused.
            assertTrue(a.execute("{\"execute\": \"query-status\"}", TIMEOUT).startsWith(PAUSED));
            assertEquals("{\"return\": {}}", a.execute("{\"execute\": \"__dev.qmpx_job-end\"}", TIMEOUT));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: this client holds no job (see __dev.qmpx_job-begin)\"}}",
                    a.execute("{\"execute\": \"__dev.qmpx_job-end\"}", TIMEOUT));
            assertEquals("{\"return\": {}}", b.execute("{\"execute\": \"cont\"}", TIMEOUT));
        }
    }

    @Test
    void aDisconnectOrIdleBoundReleasesAJob() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--job-idle", "1"); QmpClient waiter = guest.client()) {
            QmpClient leaver = guest.client();
            assertEquals("{\"return\": {}}", leaver.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
            waiter.send("{\"execute\": \"stop\", \"id\": 1}");
            leaver.close();
            assertEquals("{\"return\": {}, \"id\": 1}", waiter.nextReply(TIMEOUT));
            try (QmpClient idler = guest.client()) {
                assertEquals("{\"return\": {}}", idler.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
                waiter.send("{\"execute\": \"cont\", \"id\": 2}");
                assertEquals("{\"return\": {}, \"id\": 2}", waiter.nextReply(TIMEOUT));
                guest.proxy.awaitLog("job released after 1.0 s without a command", TIMEOUT);
            }
        }
    }

    @Test
    void aStuckQemuMakesTheReplyTimeoutFireWithoutLosingTheUpstream() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--command-timeout", "1", "--query-timeout", "1");
             QmpClient stuck = guest.client(); QmpClient other = guest.client()) {
            MainLoopHang hang = MainLoopHang.begin(stuck, guest.dir.path, guest.qemu.pid(), "\"hang\"");
            other.send("{\"execute\": \"query-status\", \"id\": \"q\"}");
            String timedOut = stuck.nextReply(TIMEOUT);
            assertTrue(Pattern.matches("\\{\"id\": \"hang\", \"error\": \\{\"class\": \"GenericError\", \"desc\": \"qmpx: no reply "
                    + "from QEMU to 'blockdev-add' within 1\\.0 s; QEMU \\(pid " + guest.qemu.pid() + "\\) is alive and its monitor "
                    + "connection open, so it is busy; its late reply will be dropped\"}}", timedOut), timedOut);
            assertTrue(other.nextReply(TIMEOUT).startsWith("{\"id\": \"q\", \"error\": {\"class\": \"GenericError\", \"desc\": "
                    + "\"qmpx: no reply from QEMU to 'query-status' within 1.0 s"));
            hang.release();
            guest.proxy.awaitLog("late reply to 'blockdev-add' (timed out) dropped", TIMEOUT);
            guest.proxy.awaitLog("late reply to 'query-status' (timed out) dropped", TIMEOUT);
            // The same upstream serves on; nobody received a late reply.
            assertEquals("{\"return\": {}, \"id\": \"after\"}", stuck.execute("{\"execute\": \"query-name\", \"id\": \"after\"}", TIMEOUT));
            assertEquals("{\"return\": {}, \"id\": \"after\"}", other.execute("{\"execute\": \"query-name\", \"id\": \"after\"}", TIMEOUT));
            assertEquals(1, count(guest.proxy.log(), "connected to QEMU monitor"));
        }
    }

    @Test
    void aReadonlyClientIsDeniedStopYetReceivesTheStopEventAndTheAuditRecordsBoth() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Path readonlySocket = dir.resolve("ro.sock");
            Path policy = dir.resolve("policy.json");
            Files.writeString(policy, "{\"rules\": [{\"listener\": \"" + readonlySocket + "\", \"role\": \"readonly\"}], "
                    + "\"default\": \"admin\"}");
            Path audit = dir.resolve("audit.jsonl");
            try (var qemu = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of());
                 ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--qemu", qemu.socket().toString(),
                         "--listen", dir.resolve("admin.sock").toString(), "--listen", readonlySocket.toString(),
                         "--policy", policy.toString(), "--audit", audit.toString()));
                 QmpClient admin = QmpClient.negotiated(dir.resolve("admin.sock"), TIMEOUT);
                 QmpClient readonly = QmpClient.negotiated(readonlySocket, TIMEOUT)) {
                assertEquals("{\"id\": 1, \"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the role 'readonly' does not allow 'stop'\"}}",
                        readonly.execute("{\"execute\": \"stop\", \"id\": 1}", TIMEOUT));
                assertTrue(readonly.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
                assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"stop\"}", TIMEOUT));
                assertTrue(readonly.awaitEvent("STOP", TIMEOUT).contains("\"event\": \"STOP\""));
                assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"cont\"}", TIMEOUT));
                Await.until("three audit lines", TIMEOUT, () -> read(audit).lines().count() == 3);
                List<String> lines = read(audit).lines().toList();
                long me = ProcessHandle.current().pid();
                assertTrue(lines.get(0).contains("\"pid\":" + me + ",\"uid\":0,\"gid\":0,\"listener\":\"" + readonlySocket
                        + "\",\"command\":\"stop\",\"result\":\"denied\""), lines.get(0));
                assertTrue(lines.get(1).contains("\"command\":\"stop\",\"result\":\"return\""), lines.get(1));
                assertTrue(lines.get(2).contains("\"command\":\"cont\",\"result\":\"return\""), lines.get(2));
            }
        }
    }

    @Test
    void thePolicyMapsAClientsUidToItsRole() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Files.setPosixFilePermissions(dir.path, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path policy = dir.resolve("policy.json");
            Files.writeString(policy, "{\"roles\": {\"watcher\": {\"allow\": [\"@query\"], \"events\": false}},"
                    + " \"rules\": [{\"uid\": 65534, \"role\": \"watcher\"}], \"default\": \"admin\"}");
            Path listen = dir.resolve("p.sock");
            try (var qemu = dev.qmpx.proxy.demo.QemuProcess.start(dir.path, List.of());
                 ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--qemu", qemu.socket().toString(),
                         "--listen", listen.toString(), "--socket-mode", "666", "--policy", policy.toString()));
                 QmpClient root = QmpClient.negotiated(listen, TIMEOUT)) {
                String script = """
                        import socket, sys
                        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb"); f.readline()
                        for cmd in (b'{"execute": "qmp_capabilities"}', b'{"execute": "stop", "id": 1}',
                                    b'{"execute": "query-name", "id": 2}'):
                            s.sendall(cmd); print(f.readline().decode().strip())
                        """;
                Process nobody = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c", script, listen.toString()).redirectErrorStream(true).start();
                String out = new String(nobody.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(0, nobody.waitFor(), out);
                assertEquals(List.of("{\"return\": {}}",
                        "{\"id\": 1, \"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the role 'watcher' does not allow 'stop'\"}}",
                        "{\"return\": {}, \"id\": 2}"), out.lines().toList());
                assertEquals("{\"return\": {}}", root.execute("{\"execute\": \"stop\"}", TIMEOUT), "root keeps the default role");
                assertTrue(proxy.log().contains("uid=65534 gid=65534, listener " + listen + ", role watcher"), proxy.log());
            }
        }
    }

    @Test
    void aClientKeepingCommandsQueuedCannotKeepTheJobFromOthers() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--job-wait", "10"); QmpClient busy = guest.client();
             QmpClient other = guest.client()) {
            int burst = 400;
            StringBuilder commands = new StringBuilder();
            for (int i = 0; i < burst; i++) {
                commands.append("{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/machine\", \"property\": "
                        + "\"type\", \"value\": \"x\"}, \"id\": ").append(i).append('}');
            }
            java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < burst; i++) {
                        busy.nextReply(TIMEOUT);
                        done.incrementAndGet();
                    }
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            });
            busy.send(commands.toString());
            Await.until("the busy client's first replies", TIMEOUT, () -> done.get() > 0);
            assertEquals("{\"return\": {}, \"id\": \"mine\"}", other.execute("{\"execute\": \"stop\", \"id\": \"mine\"}", TIMEOUT));
            int busyDone = done.get();
            assertTrue(busyDone < burst, "the other client's modify ran before the busy client's " + burst
                    + " (after " + busyDone + ")");
            reader.join(TIMEOUT.toMillis());
            assertEquals(burst, done.get());
            assertEquals("{\"return\": {}}", other.execute("{\"execute\": \"cont\"}", TIMEOUT));
        }
    }

    @Test
    void theIdleBoundNeverReleasesAJobWhileItsHoldersCommandRuns() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--job-idle", "0.5", "--job-wait", "3");
             QmpClient holder = guest.client(); QmpClient other = guest.client()) {
            assertEquals("{\"return\": {}}", holder.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
            MainLoopHang hang = MainLoopHang.begin(holder, guest.dir.path, guest.qemu.pid(), "\"long\"");
            String refused = other.execute("{\"execute\": \"stop\"}", TIMEOUT);
            assertTrue(refused.contains("waited 3.0 s for the guest's job, held by client#"), refused);
            hang.release();
            assertTrue(holder.nextReply(TIMEOUT).startsWith("{\"id\": \"long\", \"error\""));
            assertEquals("{\"return\": {}}", holder.execute("{\"execute\": \"__dev.qmpx_job-end\"}", TIMEOUT));
        }
    }

    @Test
    void anUnwritableCommandAuditNeverCostsTheMonitorConnection() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--audit", "/dev/full"); QmpClient client = guest.client()) {
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"stop\"}", TIMEOUT));
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"cont\"}", TIMEOUT));
            guest.proxy.awaitLog("cannot write the command audit", TIMEOUT);
            assertEquals(1, count(guest.proxy.log(), "connected to QEMU monitor"));
        }
    }

    /**
     * Issue 15 #14: queries used to restart the idle timer of a job-begin hold, so an operator
     * asking query-status every so often held the job for ever and every admin stop failed.
     */
    @Test
    void anOperatorsQueriesNeverKeepTheJobFromAnAdmin() throws Exception {
        try (RolesIT.Split split = RolesIT.Split.start("operator", "--job-idle", "1", "--job-wait", "15");
             QmpClient operator = split.secondClient(); QmpClient admin = split.guest().client()) {
            assertEquals("{\"return\": {}}", operator.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
            Pacer queries = Pacer.start(operator, "{\"execute\": \"query-status\"}");
            long start = System.nanoTime();
            assertEquals("{\"return\": {}, \"id\": \"s\"}", admin.execute("{\"execute\": \"stop\", \"id\": \"s\"}", TIMEOUT),
                    "the hold ended after --job-idle despite the queries");
            assertTrue(System.nanoTime() - start < java.util.concurrent.TimeUnit.SECONDS.toNanos(10));
            queries.awaitReply("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the job this client "
                    + "took with __dev.qmpx_job-begin was released after 1.0 s without a command (--job-idle)\"}}");
            List<String> replies = queries.stop();
            assertEquals(1, replies.stream().filter(r -> r.contains("\"error\"")).count(), "told once, at its next command");
            assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"cont\"}", TIMEOUT));
        }
    }

    @Test
    void aBusyHolderKeepsTheJobNoLongerThanJobMax() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--job-idle", "60", "--job-max", "2", "--job-wait", "15");
             QmpClient holder = guest.client(); QmpClient other = guest.client()) {
            assertEquals("{\"return\": {}}", holder.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
            Pacer modifies = Pacer.start(holder, "{\"execute\": \"cont\"}");
            assertEquals("{\"return\": {}, \"id\": \"s\"}", other.execute("{\"execute\": \"stop\", \"id\": \"s\"}", TIMEOUT));
            guest.proxy.awaitLog("'s job released after 2.0 s (--job-max)", TIMEOUT);
            modifies.awaitReply("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the job this "
                    + "client took with __dev.qmpx_job-begin was released after 2.0 s (--job-max)\"}}");
            modifies.stop();
        }
    }

    @Test
    void anAdminBreaksAnotherClientsJobAndTheHolderIsTold() throws Exception {
        try (RolesIT.Split split = RolesIT.Split.start("operator");
             QmpClient operator = split.secondClient(); QmpClient waiter = split.guest().client();
             QmpClient admin = split.guest().client()) {
            assertEquals("{\"return\": {}}", operator.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT));
            waiter.send("{\"execute\": \"stop\", \"id\": \"waiting\"}");
            Await.until("the stop to wait for the job", TIMEOUT, () -> clients(admin).contains("\"waiting-for-job\": true"));
            assertEquals(RolesIT.refusal(1, "operator", "__dev.qmpx_job-break", ""),
                    operator.execute("{\"execute\": \"__dev.qmpx_job-break\", \"id\": 1}", TIMEOUT), "not the operator's to use");
            assertTrue(admin.execute("{\"execute\": \"query-commands\"}", TIMEOUT).contains("{\"name\": \"__dev.qmpx_job-break\"}"));
            assertEquals("{\"return\": {}, \"id\": \"b\"}", admin.execute("{\"execute\": \"__dev.qmpx_job-break\", \"id\": \"b\"}", TIMEOUT));
            assertEquals("{\"return\": {}, \"id\": \"waiting\"}", waiter.nextReply(TIMEOUT));
            String told = operator.execute("{\"execute\": \"query-status\"}", TIMEOUT);
            assertTrue(Pattern.matches("\\{\"error\": \\{\"class\": \"GenericError\", \"desc\": \"qmpx: the job this client "
                    + "took with __dev.qmpx_job-begin was broken by client#\\d+ \\(pid \\d+, uid 0\\) with __dev.qmpx_job-break "
                    + "after \\d+\\.\\d s\"}}", told), told);
            assertTrue(operator.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"status\": \"paused\""));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: no client holds the job with "
                    + "__dev.qmpx_job-begin\"}}", admin.execute("{\"execute\": \"__dev.qmpx_job-break\"}", TIMEOUT));
            Await.until("the break audited", TIMEOUT, () -> read(split.audit())
                    .contains("\"command\":\"__dev.qmpx_job-break\",\"result\":\"return\""));
            assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"cont\"}", TIMEOUT));
        }
    }

    /**
     * One client sending the same command a few times a second (the attack's pace, not a
     * synchronisation), keeping every reply, until stopped.
     */
    private record Pacer(Thread thread, List<String> replies, java.util.concurrent.atomic.AtomicBoolean running) {
        static Pacer start(QmpClient client, String command) {
            List<String> replies = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
            Thread thread = Thread.ofPlatform().start(() -> {
                try {
                    while (running.get()) {
                        replies.add(client.execute(command, TIMEOUT));
                        Thread.sleep(300);
                    }
                } catch (java.io.IOException | InterruptedException e) {
                    replies.add("(failed: " + e + ")");
                }
            });
            return new Pacer(thread, replies, running);
        }

        void awaitReply(String reply) {
            Await.until("the reply " + reply, TIMEOUT, () -> replies.contains(reply));
        }

        List<String> stop() throws InterruptedException {
            running.set(false);
            thread.join(TIMEOUT.toMillis());
            return List.copyOf(replies);
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static int count(String text, String part) {
        return text.split(Pattern.quote(part), -1).length - 1;
    }
}
