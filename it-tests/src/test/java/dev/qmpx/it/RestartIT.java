package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Restarts and crashes of qmpx's own processes never hurt the guest: a proxy killed with SIGKILL is
 * replaced and re-attaches to the running QEMU; a broker killed in the middle of a request is
 * replaced and the proxy's open goes through.
 */
class RestartIT {
    private static final Duration TIMEOUT = Sandbox.TIMEOUT;

    @Test
    void aKilledProxyIsReplacedWithoutDisturbingTheGuestAndItsClientsLeaveNothingBehind() throws Exception {
        try (Sandbox box = new Sandbox()) {
            String fdsetsBefore = box.fdsets();
            Map<Integer, String> qemuBaseline = ProcFds.targets(box.qemu.pid());
            QmpClient other = QmpClient.negotiated(box.listen, TIMEOUT);
            Path scratch = Files.writeString(box.dir.resolve("scratch"), "x");
            try (RandomAccessFile a = new RandomAccessFile(scratch.toFile(), "rw");
                 RandomAccessFile b = new RandomAccessFile(scratch.toFile(), "rw")) {
                other.sendWithFds("{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 1}}", a.getFD());
                assertTrue(other.nextReply(TIMEOUT).contains("\"fdset-id\": 1"));
                other.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"spare\"}}", b.getFD());
                assertEquals("{\"return\": {}}", other.nextReply(TIMEOUT));
            }
            assertEquals(qemuBaseline.size() + 2, ProcFds.count(box.qemu.pid()));

            box.proxy.process.destroyForcibly();
            box.proxy.process.waitFor();
            assertTrue(other.readLine(TIMEOUT) == null, "the client sees its connection end");
            other.close();
            box.client.close();

            long start = System.nanoTime();
            box.startProxy(Map.of());
            long gapMillis = (System.nanoTime() - start) / 1_000_000;
            System.out.println("proxy restart: " + gapMillis + " ms from start to a negotiated client");
            assertTrue(box.execute("{\"execute\": \"query-status\"}").contains("\"running\": true"));
            // The disks' sets (the guest's) are kept; the dead client's set and getfd fd are gone.
            Await.until("only the guest's fdsets left", TIMEOUT, () -> box.fdsets().equals(fdsetsBefore));
            ProcFds.awaitCount("QEMU", box.qemu.pid(), qemuBaseline, TIMEOUT);
            // The disks still work and show their real paths to the new proxy's clients.
            String nodes = box.execute("{\"execute\": \"query-named-block-nodes\"}");
            assertTrue(nodes.contains("\"file\": \"" + box.images.resolve("disk0.qcow2") + "\""), nodes);
            assertTrue(box.execute("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": "
                    + "\"qemu-io disk0 \\\"write -P 0x33 0 4k\\\"\"}}").startsWith("{\"return\": "));
        }
    }

    @Test
    void aBrokerKilledMidRequestIsReplacedAndTheProxyRetriesTheOpenOnce() throws Exception {
        try (Sandbox box = new Sandbox("--lock-manager", "stalling")) {
            Path extra = box.images.resolve("extra.qcow2");
            assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", extra.toString(), "1M")
                    .inheritIO().start().waitFor());
            box.broker.allow("vm1", extra, "rw", false, false, false);
            String fdsetsBefore = box.fdsets();
            Map<Integer, String> qemuBaseline = ProcFds.targets(box.qemu.pid());
            box.stallBroker();
            box.client.send("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"qcow2\", \"node-name\": \"extra\", "
                    + "\"file\": {\"driver\": \"file\", \"filename\": \"" + extra + "\"}}, \"id\": \"during-crash\"}");
            box.awaitBrokerStalled();
            box.broker.process.destroyForcibly();
            box.broker.process.waitFor();
            box.releaseBroker();
            // Queries go on while the broker is down.
            try (QmpClient other = QmpClient.negotiated(box.listen, TIMEOUT)) {
                assertTrue(other.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
            }
            box.restartBroker();
            assertEquals("{\"return\": {}, \"id\": \"during-crash\"}", box.client.nextReply(Duration.ofSeconds(40)));
            assertTrue(box.proxy.log().contains("retrying it once"), box.proxy.log());
            assertTrue(box.graph().contains("\"node-name\": \"extra\""));
            String fdsets = box.fdsets();
            assertEquals(1, fdsets.split(java.util.regex.Pattern.quote(extra.toString()), -1).length - 1,
                    "one fdset for the image, none from the lost open: " + fdsets);
            // The restarted broker kept the whitelist and still serves the guest.
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"blockdev-del\", \"arguments\": {\"node-name\": \"extra\"}}"));
            assertFalse(box.broker.log().contains("SEVERE"), box.broker.log());
            // The lost open and its retry left nothing: the node's fdset went with it, QEMU holds the
            // fds it held before, and the images are sound.
            Await.until("fdsets as before", TIMEOUT, () -> box.fdsets().equals(fdsetsBefore));
            ProcFds.awaitCount("QEMU", box.qemu.pid(), qemuBaseline, TIMEOUT);
            ImageFiles.assertIntact(extra);
            box.assertBasesIntact();
        }
    }
}
