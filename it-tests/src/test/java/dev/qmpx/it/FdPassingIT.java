package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SCM_RIGHTS through the proxy: getfd, add-fd, fdsets, per-client names and ids, cleanup, no leaks. */
class FdPassingIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final Pattern FD = Pattern.compile("\"fd\": (\\d+)");

    @Test
    void twoClientsUsingTheSameFdnameEachGetTheirOwnFd() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient a = guest.client(); QmpClient b = guest.client();
             FileOutputStream fileA = new FileOutputStream(guest.dir.resolve("a.mig").toFile());
             FileOutputStream fileB = new FileOutputStream(guest.dir.resolve("b.mig").toFile())) {
            assertEquals("{\"return\": {}, \"id\": 1}", getfd(a, "migrate", fileA.getFD(), "1"));
            assertEquals("{\"return\": {}, \"id\": 1}", getfd(b, "migrate", fileB.getFD(), "1"));
            migrateAndAwait(a);
            assertTrue(Files.size(guest.dir.resolve("a.mig")) > 0, "A's migration went to A's file");
            assertEquals(0, Files.size(guest.dir.resolve("b.mig")), "nothing went to B's file");
            assertEquals("{\"return\": {}, \"id\": \"c\"}", a.execute("{\"execute\": \"cont\", \"id\": \"c\"}", TIMEOUT));
            migrateAndAwait(b);
            assertTrue(Files.size(guest.dir.resolve("b.mig")) > 0, "B's migration went to B's file");
            assertEquals("QEVM", new String(Files.readAllBytes(guest.dir.resolve("b.mig")), 0, 4, StandardCharsets.US_ASCII));
            assertEquals("{\"return\": {}, \"id\": \"c\"}", b.execute("{\"execute\": \"cont\", \"id\": \"c\"}", TIMEOUT));
            // Errors name the client's own fd name, not the proxy's rewritten one.
            assertEquals("{\"id\": 5, \"error\": {\"class\": \"GenericError\", \"desc\": \"File descriptor named 'nope' has not been found\"}}",
                    a.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"fd:nope\"}, \"id\": 5}", TIMEOUT));
            assertEquals("{\"id\": 6, \"error\": {\"class\": \"GenericError\", \"desc\": \"File descriptor named 'nope' not found\"}}",
                    a.execute("{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"nope\"}, \"id\": 6}", TIMEOUT));
        }
    }

    private static void migrateAndAwait(QmpClient client) throws IOException {
        assertEquals("{\"return\": {}, \"id\": \"m\"}",
                client.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"fd:migrate\"}, \"id\": \"m\"}", TIMEOUT));
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!client.execute("{\"execute\": \"query-migrate\"}", TIMEOUT).contains("\"status\": \"completed\"")) {
            assertTrue(System.nanoTime() < deadline, "migration completes");
        }
    }

    @Test
    void addFdWithReadOnlyAndReadWriteFdsBacksBlockNodesAndFdsetsArePerClient() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient a = guest.client(); QmpClient b = guest.client();
             QmpClient direct = guest.directClient()) {
            Path imageA = qcow2(guest.dir.resolve("a.qcow2"));
            Path imageB = qcow2(guest.dir.resolve("b.qcow2"));
            try (FileInputStream ro = new FileInputStream(imageA.toFile());
                 RandomAccessFile rw = new RandomAccessFile(imageA.toFile(), "rw");
                 RandomAccessFile rwB = new RandomAccessFile(imageB.toFile(), "rw")) {
                String roReply = addFd(a, "{\"fdset-id\": 1, \"opaque\": \"ro\"}", ro.getFD());
                String roFd = fdOf(roReply);
                assertEquals("{\"return\": {\"fd\": " + roFd + ", \"fdset-id\": 1}}", roReply, "the client's own fdset id");
                String rwFd = fdOf(addFd(a, "{\"fdset-id\": 1, \"opaque\": \"rw\"}", rw.getFD()));
                assertEquals(imageA, qemuFdTarget(guest, roFd));
                assertEquals(imageA, qemuFdTarget(guest, rwFd));
                // B has an fdset 1 of its own.
                String bFd = fdOf(addFd(b, "{\"fdset-id\": 1}", rwB.getFD()));
                assertEquals(imageB, qemuFdTarget(guest, bFd));
                assertEquals("{\"return\": {}, \"id\": \"ro\"}", a.execute("{\"execute\": \"blockdev-add\", \"arguments\": "
                        + "{\"driver\": \"file\", \"node-name\": \"a-ro\", \"filename\": \"/dev/fdset/1\", \"read-only\": true}, \"id\": \"ro\"}", TIMEOUT));
                assertEquals("{\"return\": {}, \"id\": \"rw\"}", a.execute("{\"execute\": \"blockdev-add\", \"arguments\": "
                        + "{\"driver\": \"qcow2\", \"node-name\": \"a-qcow2\", \"file\": {\"driver\": \"file\", \"filename\": \"/dev/fdset/1\"}}, \"id\": \"rw\"}", TIMEOUT));
                assertEquals("{\"return\": {}, \"id\": \"b\"}", b.execute("{\"execute\": \"blockdev-add\", \"arguments\": "
                        + "{\"driver\": \"qcow2\", \"node-name\": \"b-qcow2\", \"file\": {\"driver\": \"file\", \"filename\": \"/dev/fdset/1\"}}, \"id\": \"b\"}", TIMEOUT));
                // A client cannot reach an fdset it does not own.
                assertTrue(b.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"x\", "
                        + "\"filename\": \"/dev/fdset/2\"}}", TIMEOUT).contains("no such fdset for this client"));
                assertEquals("{\"return\": [{\"fds\": [{\"fd\": " + roFd + ", \"opaque\": \"ro\"}, {\"fd\": " + rwFd
                        + ", \"opaque\": \"rw\"}], \"fdset-id\": 1}]}", a.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT));
                assertEquals("{\"return\": [{\"fds\": [{\"fd\": " + bFd + "}], \"fdset-id\": 1}]}",
                        b.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT));
                // QEMU itself sees two sets, tagged with their owners.
                String upstream = direct.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT);
                assertEquals(2, count(upstream, "\"fdset-id\""));
                assertEquals(3, count(upstream, "\"opaque\": \"qmpx1:"));
            }
        }
    }

    @Test
    void aDepartingClientsFdsAreClosedAndItsFdsetsRemovedUnlessInUse() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient direct = guest.directClient()) {
            Path image = qcow2(guest.dir.resolve("used.qcow2"));
            Map<Integer, String> qemuBaseline = ProcFds.targets(guest.qemu.pid());
            QmpClient leaver = guest.client();
            try (RandomAccessFile used = new RandomAccessFile(image.toFile(), "rw");
                 FileOutputStream unused = new FileOutputStream(guest.dir.resolve("unused").toFile());
                 FileOutputStream named = new FileOutputStream(guest.dir.resolve("named").toFile())) {
                addFd(leaver, "{\"fdset-id\": 3}", used.getFD());
                addFd(leaver, "{\"fdset-id\": 4}", unused.getFD());
                getfd(leaver, "kept", named.getFD(), "\"g\"");
                assertEquals("{\"return\": {}}", leaver.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", "
                        + "\"node-name\": \"in-use\", \"filename\": \"/dev/fdset/3\"}}", TIMEOUT));
            }
            assertEquals(2, count(direct.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT), "\"fdset-id\""));
            leaver.close();
            guest.proxy.awaitLog("closing 1 getfd fd(s) and removing 2 fdset(s)", TIMEOUT);
            // The unused set is gone; the set a node uses stays, emptied, until the node goes.
            Await.until("fdset cleanup", TIMEOUT, () -> query(direct).matches(
                    "\\{\"return\": \\[\\{\"fds\": \\[\\], \"fdset-id\": \\d+}]}"));
            // Left in QEMU: the node's own dup of the image (what a direct monitor would leave too).
            Await.until("QEMU closed the client's fds", TIMEOUT, () -> ProcFds.count(guest.qemu.pid()) == qemuBaseline.size() + 1);
            try (QmpClient other = guest.client()) {
                assertEquals("{\"return\": {}}", other.execute("{\"execute\": \"blockdev-del\", \"arguments\": {\"node-name\": \"in-use\"}}", TIMEOUT));
            }
            Await.until("the emptied set to disappear with its last user", TIMEOUT, () -> query(direct).equals("{\"return\": []}"));
            ProcFds.awaitCount("QEMU", guest.qemu.pid(), qemuBaseline, TIMEOUT);
        }
    }

    @Test
    void aRestartedProxyRemovesTheFdsetsOfClientsOfAKilledOne() throws Exception {
        try (WorkDir dir = new WorkDir(); var qemu = dev.qmpx.proxy.demo.QemuProcess.start(dir.path,
                List.of("-qmp", "unix:" + dir.resolve("direct.sock") + ",server=on,wait=off"));
             QmpClient direct = QmpClient.negotiated(dir.resolve("direct.sock"), TIMEOUT)) {
            Path image = qcow2(dir.resolve("used.qcow2"));
            Path listen = dir.resolve("p.sock");
            ProxyProcess first = ProxyProcess.start(dir.resolve("first.log"), List.of("--qemu", qemu.socket().toString(),
                    "--listen", listen.toString()));
            try (QmpClient client = QmpClient.negotiated(listen, TIMEOUT); RandomAccessFile rw = new RandomAccessFile(image.toFile(), "rw")) {
                addFd(client, "{\"fdset-id\": 0}", rw.getFD());
                assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
                        + "\"file\", \"node-name\": \"kept\", \"filename\": \"/dev/fdset/0\"}}", TIMEOUT));
            }
            first.process.destroyForcibly();
            first.awaitExit(TIMEOUT);
            // The set outlives the killed proxy: a node uses it, and QEMU keeps sets in use.
            assertEquals(1, count(query(direct), "\"fdset-id\""));
            try (ProxyProcess second = ProxyProcess.start(dir.resolve("second.log"), List.of("--qemu", qemu.socket().toString(),
                    "--listen", listen.toString()))) {
                second.awaitLog("removing 1 fdset(s) left by qmpx clients that no longer exist", TIMEOUT);
                try (QmpClient client = QmpClient.negotiated(listen, TIMEOUT)) {
                    assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"blockdev-del\", \"arguments\": "
                            + "{\"node-name\": \"kept\"}}", TIMEOUT));
                }
                Await.until("the orphaned set to go with its node", TIMEOUT, () -> query(direct).equals("{\"return\": []}"));
            }
        }
    }

    @Test
    void pipelinedFdCommandsFromSeveralClientsEachLandWithTheirOwnCommand() throws Exception {
        int clients = 4;
        int perClient = 25;
        try (GuestFixture guest = GuestFixture.start()) {
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                results.add(pool.submit(() -> {
                    List<Path> files = new ArrayList<>();
                    List<FileOutputStream> streams = new ArrayList<>();
                    try (QmpClient q = guest.client()) {
                        for (int i = 0; i < perClient; i++) {
                            Path file = guest.dir.resolve("burst-" + client + "-" + i);
                            files.add(file);
                            streams.add(new FileOutputStream(file.toFile()));
                        }
                        // Back to back, each command in its own sendmsg with its own fd, before any reply.
                        for (int i = 0; i < perClient; i++) {
                            q.sendWithFds("{\"execute\": \"add-fd\", \"arguments\": {\"opaque\": \"" + i + "\"}, \"id\": " + i + "}",
                                    streams.get(i).getFD());
                        }
                        for (int i = 0; i < perClient; i++) {
                            String reply = q.nextReply(TIMEOUT);
                            assertTrue(reply.endsWith("\"fdset-id\": " + i + "}, \"id\": " + i + "}"), reply);
                            assertEquals(files.get(i), qemuFdTarget(guest, fdOf(reply)), "fd of command " + i);
                        }
                    } finally {
                        for (FileOutputStream s : streams) {
                            s.close();
                        }
                    }
                    return perClient;
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) {
                total += f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertEquals(clients * perClient, total);
        }
    }

    @Test
    void strayFdsFollowQemusRules() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient a = guest.client()) {
            try (FileOutputStream x = new FileOutputStream(guest.dir.resolve("x").toFile());
                 FileOutputStream y = new FileOutputStream(guest.dir.resolve("y").toFile());
                 FileOutputStream z = new FileOutputStream(guest.dir.resolve("z").toFile());
                 FileOutputStream w = new FileOutputStream(guest.dir.resolve("w").toFile())) {
                // An fd sent with a command that takes none waits for the next add-fd, as in QEMU.
                a.sendWithFds("{\"execute\": \"query-name\"}", x.getFD());
                assertEquals("{\"return\": {}}", a.nextReply(TIMEOUT));
                assertEquals(guest.dir.resolve("x"), qemuFdTarget(guest, fdOf(a.execute("{\"execute\": \"add-fd\"}", TIMEOUT))));
                // A newer fd replaces (and closes) an older one still waiting.
                a.sendWithFds("{\"execute\": \"query-name\"}", y.getFD());
                a.nextReply(TIMEOUT);
                a.sendWithFds("{\"execute\": \"query-name\"}", z.getFD());
                a.nextReply(TIMEOUT);
                assertEquals(guest.dir.resolve("z"), qemuFdTarget(guest, fdOf(a.execute("{\"execute\": \"add-fd\"}", TIMEOUT))));
                // Two fds in one message: the first is taken, the second closed.
                a.sendWithFds("{\"execute\": \"add-fd\"}", w.getFD(), y.getFD());
                assertEquals(guest.dir.resolve("w"), qemuFdTarget(guest, fdOf(a.nextReply(TIMEOUT))));
                // Nothing waiting: QEMU's error. A rejected name still consumes the fd.
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"No file descriptor supplied via SCM_RIGHTS\"}}",
                        a.execute("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"n\"}}", TIMEOUT));
                a.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"1abc\"}}", x.getFD());
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'fdname' expects a name not starting with a digit\"}}",
                        a.nextReply(TIMEOUT));
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"No file descriptor supplied via SCM_RIGHTS\"}}",
                        a.execute("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"n\"}}", TIMEOUT));
                // Arguments QEMU's visitor rejects leave the fd waiting for the next getfd.
                a.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": 5}}", x.getFD());
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Invalid parameter type for 'fdname', expected: string\"}}",
                        a.nextReply(TIMEOUT));
                assertEquals("{\"return\": {}}", a.execute("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"n\"}}", TIMEOUT));
            }
        }
    }

    @Test
    void proxyAndQemuFdCountsReturnToBaselineAfterAThousandCycles() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient direct = guest.directClient()) {
            Path file = guest.dir.resolve("cycled");
            Files.writeString(file, "x");
            cycles(guest, file, 0, 20);
            Await.until("warm-up cleanup", TIMEOUT, () -> query(direct).equals("{\"return\": []}"));
            // The baseline is taken once the proxy has closed every warm-up client's socket.
            guest.proxy.awaitClientsGone(20);
            Map<Integer, String> proxyBaseline = ProcFds.targets(guest.proxy.pid());
            Map<Integer, String> qemuBaseline = ProcFds.targets(guest.qemu.pid());
            cycles(guest, file, 20, 1000);
            guest.proxy.awaitClientsGone(1000);
            Await.until("QEMU's fdsets all removed", Duration.ofSeconds(60), () -> query(direct).equals("{\"return\": []}"));
            ProcFds.awaitCount("QEMU", guest.qemu.pid(), qemuBaseline, TIMEOUT);
            ProcFds.awaitCount("the proxy", guest.proxy.pid(), proxyBaseline, TIMEOUT);
        }
    }

    /** Each cycle passes fds and leaves in a different way: tidy, abrupt, with fds still waiting. */
    private static void cycles(GuestFixture guest, Path file, int from, int to) throws IOException {
        for (int i = from; i < to; i++) {
            try (QmpClient q = guest.client(); FileInputStream in = new FileInputStream(file.toFile())) {
                switch (i % 4) {
                    case 0 -> {
                        getfd(q, "f", in.getFD(), "1");
                        assertEquals("{\"return\": {}}", q.execute("{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"f\"}}", TIMEOUT));
                    }
                    case 1 -> {
                        addFd(q, "{\"fdset-id\": 2}", in.getFD());
                        assertEquals("{\"return\": {}}", q.execute("{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": 2}}", TIMEOUT));
                    }
                    case 2 -> {
                        getfd(q, "left", in.getFD(), "1");
                        addFd(q, "{}", in.getFD());
                    }
                    default -> q.sendWithFds("{\"execute\": \"query-name\"}", in.getFD());
                }
            }
        }
    }

    @Test
    void aPythonClientPassesFdsThroughTheProxyExactlyAsToQemu() throws Exception {
        String script = """
                import os, re, socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
                f.readline()
                def cmd(text, fds=()):
                    if fds:
                        socket.send_fds(s, [text.encode()], list(fds))
                    else:
                        s.sendall(text.encode())
                    while True:
                        line = f.readline().decode().strip()
                        if '"event"' not in line:
                            return re.sub(r'"fd": [0-9]+', '"fd": N', line)
                fd = os.open(sys.argv[2], os.O_RDWR)
                print(cmd('{"execute": "qmp_capabilities"}'))
                print(cmd('{"execute": "getfd", "arguments": {"fdname": "py"}, "id": 1}', [fd]))
                print(cmd('{"execute": "add-fd", "arguments": {"opaque": "from python"}, "id": 2}', [fd]))
                print(cmd('{"execute": "query-fdsets", "id": 3}'))
                print(cmd('{"execute": "closefd", "arguments": {"fdname": "py"}, "id": 4}'))
                print(cmd('{"execute": "closefd", "arguments": {"fdname": "py"}, "id": 5}'))
                print(cmd('{"execute": "remove-fd", "arguments": {"fdset-id": 0}, "id": 6}'))
                print(cmd('{"execute": "remove-fd", "arguments": {"fdset-id": 0}, "id": 7}'))
                print(cmd('{"execute": "getfd", "arguments": {"fdname": "py"}, "id": 8}'))
                """;
        try (GuestFixture guest = GuestFixture.start()) {
            Path file = guest.dir.resolve("python-file");
            Files.writeString(file, "data");
            String direct = python(script, guest.direct, file);
            String proxied = python(script, guest.listen, file);
            assertEquals(direct, proxied);
            assertTrue(proxied.contains("{\"return\": [{\"fds\": [{\"fd\": N, \"opaque\": \"from python\"}], \"fdset-id\": 0}], \"id\": 3}"), proxied);
        }
    }

    /** Runs a python3 client script with the socket and a file as its arguments; returns what it printed. */
    static String python(String script, Path socket, Path file) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", script, socket.toString(), file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    // --- helpers ---

    private static String getfd(QmpClient client, String name, FileDescriptor fd, String id) throws IOException {
        client.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"" + name + "\"}, \"id\": " + id + "}", fd);
        return client.nextReply(TIMEOUT);
    }

    private static String addFd(QmpClient client, String arguments, FileDescriptor fd) throws IOException {
        client.sendWithFds("{\"execute\": \"add-fd\", \"arguments\": " + arguments + "}", fd);
        String reply = client.nextReply(TIMEOUT);
        assertTrue(reply.startsWith("{\"return\": {\"fd\": "), reply);
        return reply;
    }

    private static String fdOf(String reply) {
        Matcher m = FD.matcher(reply);
        assertTrue(m.find(), reply);
        return m.group(1);
    }

    /** What QEMU's fd N refers to: proves which descriptor QEMU received. */
    private static Path qemuFdTarget(GuestFixture guest, String fd) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/" + guest.qemu.pid() + "/fd/" + fd));
    }

    private static Path qcow2(Path path) throws Exception {
        Process p = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", path.toString(), "16M")
                .inheritIO().start();
        assertEquals(0, p.waitFor());
        return path;
    }

    private static String query(QmpClient direct) {
        try {
            return direct.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static int count(String text, String part) {
        return text.split(Pattern.quote(part), -1).length - 1;
    }
}
