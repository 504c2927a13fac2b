package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Client processes SIGKILLed in the middle of passing an fd, or while the broker works on their
 * command: the proxy and QEMU end with the fds they had, no fdset and no created file is left, and
 * other clients go on.
 */
class KilledClientIT {
    private static final java.time.Duration TIMEOUT = Sandbox.TIMEOUT;
    /** Negotiates, sends argv[3] (with an fd of argv[2] when argv[4] is "fd"), says so, and waits to be killed. */
    private static final String CLIENT = """
            import os, signal, socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
            f.readline()
            s.sendall(b'{"execute": "qmp_capabilities"}')
            while b'"return"' not in f.readline():
                pass
            if sys.argv[4] == "fd":
                socket.send_fds(s, [sys.argv[3].encode()], [os.open(sys.argv[2], os.O_RDWR)])
            else:
                s.sendall(sys.argv[3].encode())
            print("sent", flush=True)
            signal.pause()
            """;

    @Test
    void clientsKilledRightAfterSendingAnFdLeaveNothingInTheProxyOrQemu() throws Exception {
        try (Sandbox box = new Sandbox(); QmpClient other = QmpClient.negotiated(box.listen, TIMEOUT)) {
            Path file = Files.writeString(box.dir.resolve("passed"), "data");
            try (RandomAccessFile mine = new RandomAccessFile(file.toFile(), "rw")) {
                other.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"mine\"}}", mine.getFD());
                assertEquals("{\"return\": {}}", other.nextReply(TIMEOUT));
            }
            Baseline baseline = Baseline.of(box);
            List<String> commands = List.of(
                    "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"py\"}}",
                    "{\"execute\": \"add-fd\", \"arguments\": {\"opaque\": \"py\"}}",
                    // The fd waits for a command whose frame never completes.
                    "{\"execute\": \"getfd\", \"argu");
            for (int i = 0; i < 15; i++) {
                kill(startClient(box, file, commands.get(i % commands.size()), true));
            }
            baseline.awaitBack(box);
            // The other client's session and its fd in QEMU are as they were.
            assertEquals("{\"return\": {}}", other.execute("{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"mine\"}}", TIMEOUT));
            assertTrue(other.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
        }
    }

    @Test
    void clientsKilledWhileTheBrokerHoldsTheirCommandLeaveNoNodeFdsetOrFile() throws Exception {
        try (Sandbox box = new Sandbox("--lock-manager", "stalling"); QmpClient other = QmpClient.negotiated(box.listen, TIMEOUT)) {
            Path extra = box.images.resolve("extra.qcow2");
            assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", extra.toString(), "1M")
                    .inheritIO().start().waitFor());
            box.broker.allow("vm1", extra, "rw", false, false, false);
            Path created = box.overlays.resolve("py-created.raw");
            Baseline baseline = Baseline.of(box);
            for (String command : List.of(
                    "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"qcow2\", \"node-name\": \"extra\", "
                            + "\"file\": {\"driver\": \"file\", \"filename\": \"" + extra + "\"}}}",
                    "{\"execute\": \"blockdev-create\", \"arguments\": {\"job-id\": \"py-create\", \"options\": "
                            + "{\"driver\": \"file\", \"filename\": \"" + created + "\", \"size\": 1048576}}}")) {
                box.stallBroker();
                Process client = startClient(box, extra, command, false);
                box.awaitBrokerStalled();
                kill(client);
                // Other clients are served while the broker holds the departed one's open.
                assertTrue(other.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
                box.releaseBroker();
                Await.until("no file left by the killed client's create", TIMEOUT, () -> !Files.exists(created));
                baseline.awaitBack(box);
            }
            // The broker did create the file once released; the proxy had it deleted.
            box.proxy.awaitLog(" deleted " + created, TIMEOUT);
            assertFalse(box.graph().contains("\"node-name\": \"extra\""), box.graph());
            assertEquals("{\"return\": []}", box.query("query-jobs"));
            // The broker served the guest throughout: the image opens for a live client.
            assertEquals("{\"return\": {}}", other.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"qcow2\", "
                    + "\"node-name\": \"extra\", \"file\": {\"driver\": \"file\", \"filename\": \"" + extra + "\"}}}", TIMEOUT));
        }
    }

    /** The fds of the proxy and QEMU and QEMU's fdsets, to come back to. */
    private record Baseline(Map<Integer, String> proxyFds, Map<Integer, String> qemuFds, String fdsets) {
        static Baseline of(Sandbox box) {
            return new Baseline(ProcFds.targets(box.proxy.pid()), ProcFds.targets(box.qemu.pid()), box.fdsets());
        }

        void awaitBack(Sandbox box) {
            ProcFds.awaitCount("the proxy", box.proxy.pid(), proxyFds, TIMEOUT);
            ProcFds.awaitCount("QEMU", box.qemu.pid(), qemuFds, TIMEOUT);
            Await.until("QEMU's fdsets as before", TIMEOUT, () -> box.fdsets().equals(fdsets));
        }
    }

    /** A python3 client that has sent the command (and fd) and waits; returns once it has sent. */
    private static Process startClient(Sandbox box, Path file, String command, boolean withFd) throws Exception {
        Process client = new ProcessBuilder("/usr/bin/python3", "-c", CLIENT, box.listen.toString(), file.toString(), command,
                withFd ? "fd" : "nofd").redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("sent", out.readLine(), "the python client got as far as sending");
        return client;
    }

    private static void kill(Process client) throws InterruptedException {
        client.destroyForcibly();
        client.waitFor();
    }
}
