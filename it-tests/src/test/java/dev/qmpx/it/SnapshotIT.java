package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Atomic multi-disk snapshots through proxy and broker, for a QEMU (uid 65534) that can open no
 * image: success end to end, and failure at each step leaving the guest as it was.
 */
class SnapshotIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    @Test
    void aTwoDiskSnapshotSwitchesBothDisksAtomicallyAndTheChainWorksOnTheHost() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Path s0 = box.overlays.resolve("disk0.s1.qcow2");
            Path s1 = box.overlays.resolve("disk1.s1.qcow2");
            // Front ends attached before the snapshot: the guest's view of each disk over NBD.
            Path nbd = box.dir.resolve("q/nbd.sock");
            assertEquals("{\"return\": {}}", box.client.execute("{\"execute\": \"nbd-server-start\", \"arguments\": {\"addr\": "
                    + "{\"type\": \"unix\", \"data\": {\"path\": \"" + nbd + "\"}}}}", TIMEOUT));
            for (String disk : List.of("disk0", "disk1")) {
                assertEquals("{\"return\": {}}", box.client.execute("{\"execute\": \"block-export-add\", \"arguments\": "
                        + "{\"type\": \"nbd\", \"id\": \"" + disk + "\", \"node-name\": \"" + disk + "\", \"writable\": true}}", TIMEOUT));
            }
            // Through the CLI, as an operator would.
            Process cli = new ProcessBuilder(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "snapshot", "--proxy",
                    box.listen.toString(), "disk0=" + s0, "disk1=" + s1).redirectErrorStream(true).start();
            String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, cli.waitFor(), out);
            Matcher entries = Pattern.compile("\\{\"node\": \"(disk[01])\", \"overlay\": \"(qmpx-snap-disk[01]-[^\"]+)\", "
                    + "\"file\": \"([^\"]+)\"}").matcher(out);
            Map<String, String> overlayOf = new HashMap<>();
            Map<String, String> fileOf = new HashMap<>();
            while (entries.find()) {
                overlayOf.put(entries.group(1), entries.group(2));
                fileOf.put(entries.group(1), entries.group(3));
            }
            assertEquals(Map.of("disk0", s0.toString(), "disk1", s1.toString()), fileOf, out);
            // Both disks switched: each overlay has its own base as backing.
            String graph = box.query("x-debug-query-block-graph");
            for (String disk : List.of("disk0", "disk1")) {
                assertEquals(disk, backingOf(graph, overlayOf.get(disk)), graph);
            }
            // The guest's writes through the front ends go to the overlays; the bases stay as they were.
            for (String disk : List.of("disk0", "disk1")) {
                Path base = box.images.resolve(disk + ".qcow2");
                Path overlay = Path.of(fileOf.get(disk));
                String baseBefore = ImageFiles.sha256(base);
                String overlayBefore = ImageFiles.sha256(overlay);
                Process io = new ProcessBuilder("qemu-io", "-f", "raw", "-c", "write -P 0x6b 0 64k",
                        "nbd+unix:///" + disk + "?socket=" + nbd).redirectErrorStream(true).start();
                String written = new String(io.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(0, io.waitFor(), written);
                assertTrue(written.contains("wrote 65536/65536 bytes"), written);
                assertNotEquals(overlayBefore, ImageFiles.sha256(overlay), disk + "'s write is in its overlay");
                assertEquals(baseBefore, ImageFiles.sha256(base), disk + "'s base is untouched");
                String read = ImageFiles.qemuIo(overlay, "read -P 0x6b 0 64k");
                assertFalse(read.contains("Pattern verification failed"), read);
            }
            // The overlay names its base by its real path: the chain opens outside this QEMU (-U: the
            // guest is running and holds the image lock).
            String chain = BrokeredCommandsIT.backingChain(s1);
            assertTrue(chain.contains("backing file: " + box.images.resolve("disk1.qcow2")), chain);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(s0)));
        }
    }

    @Test
    void aSnapshotHoldsTheGuestsJobQueriesAreAnsweredAndModifyCommandsWaitForItsEnd() throws Exception {
        try (Sandbox box = new Sandbox("--lock-manager", "stalling");
             QmpClient other = QmpClient.negotiated(box.listen, TIMEOUT);
             QmpClient observer = QmpClient.negotiated(box.listen, TIMEOUT)) {
            Path s0 = box.overlays.resolve("job.s1.qcow2");
            box.stallBroker();
            box.client.send("{\"execute\": \"__dev.qmpx_snapshot\", \"arguments\": {\"targets\": [{\"node\": \"disk0\", "
                    + "\"file\": \"" + s0 + "\"}]}, \"id\": \"snap\"}");
            // Held mid-prepare: the broker has the overlay's create and does not answer.
            box.awaitBrokerStalled();
            assertTrue(other.execute("{\"execute\": \"query-status\", \"id\": \"q\"}", TIMEOUT)
                    .contains("\"running\": true"));
            other.send("{\"execute\": \"stop\", \"id\": \"waits\"}");
            Await.until("the stop to wait for the snapshot's job", TIMEOUT,
                    () -> JobsAndPolicyIT.clients(observer).contains("\"waiting-for-job\": true"));
            String listing = JobsAndPolicyIT.clients(observer);
            assertTrue(listing.contains("\"command\": \"__dev.qmpx_snapshot\""), listing);
            assertTrue(box.query("query-status").contains("\"running\": true"), "nothing of the stop reached QEMU");
            box.releaseBroker();
            String snapshot = box.client.nextReply(Duration.ofSeconds(60));
            assertTrue(snapshot.startsWith("{\"return\": [{\"node\": \"disk0\""), () -> snapshot + box.diagnostics());
            assertEquals("{\"return\": {}, \"id\": \"waits\"}", other.nextReply(TIMEOUT));
            // The stop ran after the snapshot had ended: its STOP event follows the snapshot's reply.
            assertFalse(box.client.events().stream().anyMatch(e -> e.contains("\"event\": \"STOP\"")), box.client.events().toString());
            box.client.awaitEvent("STOP", TIMEOUT);
        }
    }

    /** The node name of the backing child of the named node, from x-debug-query-block-graph. */
    private static String backingOf(String graph, String nodeName) throws Exception {
        JsonNode tree = new ObjectMapper().readTree(graph).path("return");
        Map<Long, String> names = new HashMap<>();
        tree.path("nodes").forEach(node -> names.put(node.path("id").asLong(), node.path("name").asText()));
        for (JsonNode edge : tree.path("edges")) {
            if (edge.path("name").asText().equals("backing") && nodeName.equals(names.get(edge.path("parent").asLong()))) {
                return names.get(edge.path("child").asLong());
            }
        }
        return null;
    }

    @Test
    void aFailureAtAnyStepLeavesGraphFdsetsAndFilesAsTheyWere() throws Exception {
        try (Sandbox box = new Sandbox()) {
            GuestState before = GuestState.of(box);
            Path first = box.overlays.resolve("first.qcow2");
            // The broker refuses the second target (outside the whitelist).
            String refused = box.snapshot("disk0", first.toString(), "disk1", box.dir.resolve("elsewhere.qcow2").toString());
            assertTrue(refused.contains("qmpx: snapshot failed, nothing changed: qmpx broker refused"), () -> refused + box.diagnostics());
            assertUnchanged(box, before, first);
            // The second target already exists: it is left untouched.
            Path existing = Files.writeString(box.overlays.resolve("existing.qcow2"), "pre-existing data");
            String exists = box.snapshot("disk0", first.toString(), "disk1", existing.toString());
            assertTrue(exists.contains("exists (create is exclusive and never truncates)"), () -> exists + box.diagnostics());
            assertEquals("pre-existing data", Files.readString(existing));
            assertUnchanged(box, before, first);
            // A target that is an image in use is refused before anything is made.
            String inUse = box.snapshot("disk0", box.images.resolve("disk1.qcow2").toString());
            assertTrue(inUse.contains("is in use by node"), () -> inUse + box.diagnostics());
            assertUnchanged(box, before, first);
            // Both disks prepared, then the transaction itself fails (on an action of the client's that
            // goes into it unchanged): everything prepared is undone.
            Path second = box.overlays.resolve("second.qcow2");
            String txFails = box.execute(transactionFailingAtItsLastAction(first, second));
            assertTrue(txFails.contains("snapshot failed, nothing changed: transaction: ") && txFails.contains("no-such-node"),
                    () -> txFails + box.diagnostics());
            // Both disks were prepared (12 steps) and the transaction (the 13th) was sent.
            assertTrue(box.proxy.log().contains("undoing 13 step(s): transaction: "), box.proxy.log());
            assertUnchanged(box, before, first);
            assertFalse(Files.exists(second));
            // The guest ran throughout, and a correct snapshot still works afterwards.
            assertTrue(box.client.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
            assertTrue(box.snapshot("disk0", first.toString()).startsWith("{\"return\": "));
        }
    }

    @Test
    void aSnapshotOfAnNbdExportedNodeMovesTheExportToTheOverlay() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Path nbd = box.dir.resolve("q/nbd.sock");
            assertEquals("{\"return\": {}}", box.client.execute("{\"execute\": \"nbd-server-start\", \"arguments\": {\"addr\": "
                    + "{\"type\": \"unix\", \"data\": {\"path\": \"" + nbd + "\"}}}}", TIMEOUT));
            assertEquals("{\"return\": {}}", box.client.execute("{\"execute\": \"block-export-add\", \"arguments\": "
                    + "{\"type\": \"nbd\", \"id\": \"exp0\", \"node-name\": \"disk0\", \"writable\": true}}", TIMEOUT));
            String result = box.client.execute("{\"execute\": \"__dev.qmpx_snapshot\", \"arguments\": {\"targets\": "
                    + "[{\"node\": \"disk0\", \"file\": \"" + box.overlays.resolve("exported.s1.qcow2") + "\", "
                    + "\"overlay-node\": \"exported-s1\"}]}}", Duration.ofSeconds(60));
            assertEquals("{\"return\": [{\"node\": \"disk0\", \"overlay\": \"exported-s1\", \"file\": \""
                    + box.overlays.resolve("exported.s1.qcow2") + "\"}]}", result);
            String exports = box.client.execute("{\"execute\": \"query-block-exports\"}", TIMEOUT);
            assertTrue(exports.contains("\"node-name\": \"exported-s1\""), exports);
        }
    }

    /**
     * QEMU's own transaction snapshotting both disks, whose last action (the client's, passed through
     * unchanged) fails: every step before the transaction succeeds.
     */
    static String transactionFailingAtItsLastAction(Path s0, Path s1) {
        return "{\"execute\": \"transaction\", \"arguments\": {\"actions\": ["
                + "{\"type\": \"blockdev-snapshot-sync\", \"data\": {\"node-name\": \"disk0\", \"snapshot-file\": \"" + s0 + "\"}}, "
                + "{\"type\": \"blockdev-snapshot-sync\", \"data\": {\"node-name\": \"disk1\", \"snapshot-file\": \"" + s1 + "\"}}, "
                + "{\"type\": \"block-dirty-bitmap-add\", \"data\": {\"node\": \"no-such-node\", \"name\": \"b0\"}}]}}";
    }

    private static void assertUnchanged(Sandbox box, GuestState before, Path created) throws Exception {
        before.awaitBack(box, "after a failed snapshot");
        assertFalse(Files.exists(created), created + " was deleted again");
        try (var files = Files.list(box.overlays)) {
            assertTrue(files.allMatch(f -> f.getFileName().toString().equals("existing.qcow2")), "no stray overlay files");
        }
    }
}
