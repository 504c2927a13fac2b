package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
            // Through the CLI, as an operator would.
            Process cli = new ProcessBuilder(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "snapshot", "--proxy",
                    box.listen.toString(), "disk0=" + s0, "disk1=" + s1).redirectErrorStream(true).start();
            String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, cli.waitFor(), out);
            assertTrue(out.startsWith("{\"return\": [{\"node\": \"disk0\", \"overlay\": \"qmpx-snap-disk0-"), out);
            String graph = box.graph();
            assertTrue(graph.contains("\"backing_file_depth\": 1"), graph);
            // Writes now go to the overlay, not to the base.
            String overlayNode = out.replaceAll("(?s).*\"overlay\": \"(qmpx-snap-disk0-[0-9]+)\".*", "$1");
            assertTrue(box.client.execute("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": "
                    + "\"qemu-io " + overlayNode + " \\\"write -P 0x6b 0 4k\\\"\"}}", TIMEOUT).startsWith("{\"return\": "));
            String k = "\u006b".repeat(4096);
            assertTrue(Files.readString(s0, StandardCharsets.ISO_8859_1).contains(k), "the write is in the overlay");
            assertFalse(Files.readString(box.images.resolve("disk0.qcow2"), StandardCharsets.ISO_8859_1).contains(k));
            // The overlay names its base by its real path: the chain opens outside this QEMU (-U: the
            // guest is running and holds the image lock).
            Process info = new ProcessBuilder("qemu-img", "info", "--force-share", "--backing-chain", s1.toString()).redirectErrorStream(true).start();
            String chain = new String(info.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, info.waitFor(), chain);
            assertTrue(chain.contains("backing file: " + box.images.resolve("disk1.qcow2")), chain);
            assertFalse(chain.contains("/dev/fdset") || chain.contains("json:"), chain);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(s0)));
        }
    }

    @Test
    void aFailureAtAnyStepLeavesGraphFdsetsAndFilesAsTheyWere() throws Exception {
        try (Sandbox box = new Sandbox()) {
            String graphBefore = box.graph();
            String fdsetsBefore = box.fdsets();
            Path first = box.overlays.resolve("first.qcow2");
            // The broker refuses the second target (outside the whitelist).
            String refused = box.snapshot("disk0", first.toString(), "disk1", box.dir.resolve("elsewhere.qcow2").toString());
            assertTrue(refused.contains("qmpx: snapshot failed, nothing changed: qmpx broker refused"), () -> refused + box.diagnostics());
            assertUnchanged(box, graphBefore, fdsetsBefore, first);
            // The second target already exists: it is left untouched.
            Path existing = Files.writeString(box.overlays.resolve("existing.qcow2"), "pre-existing data");
            String exists = box.snapshot("disk0", first.toString(), "disk1", existing.toString());
            assertTrue(exists.contains("exists (create is exclusive and never truncates)"), () -> exists + box.diagnostics());
            assertEquals("pre-existing data", Files.readString(existing));
            assertUnchanged(box, graphBefore, fdsetsBefore, first);
            // A target that is an image in use is refused before anything is made.
            String inUse = box.snapshot("disk0", box.images.resolve("disk1.qcow2").toString());
            assertTrue(inUse.contains("is in use by node"), () -> inUse + box.diagnostics());
            assertUnchanged(box, graphBefore, fdsetsBefore, first);
            // The transaction itself fails (a node that is not a format node): everything prepared is undone.
            String txFails = box.snapshot("disk0", first.toString(), box.graph().contains("\"node-name\": \"#block") ? autoNode(box) : "disk1",
                    box.overlays.resolve("second.qcow2").toString());
            assertTrue(txFails.contains("snapshot failed, nothing changed"), () -> txFails + box.diagnostics());
            assertUnchanged(box, graphBefore, fdsetsBefore, first);
            assertFalse(Files.exists(box.overlays.resolve("second.qcow2")));
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

    /** The auto-named file node under disk1: snapshotting a protocol node fails in the transaction. */
    private static String autoNode(Sandbox box) throws Exception {
        String graph = box.graph();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"node-name\": \"(#block\\d+)\"").matcher(graph);
        assertTrue(m.find(), graph);
        return m.group(1);
    }

    private static void assertUnchanged(Sandbox box, String graphBefore, String fdsetsBefore, Path created) throws Exception {
        assertEquals(Sandbox.nodeNames(graphBefore), Sandbox.nodeNames(box.graph()));
        Await.until("fdsets as before", TIMEOUT, () -> box.fdsets().equals(fdsetsBefore));
        assertFalse(Files.exists(created), created + " was deleted again");
        try (var files = Files.list(box.overlays)) {
            assertTrue(files.allMatch(f -> f.getFileName().toString().equals("existing.qcow2")), "no stray overlay files");
        }
    }
}
