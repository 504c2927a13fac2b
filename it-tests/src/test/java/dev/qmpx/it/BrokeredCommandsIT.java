package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QEMU's own file-naming block commands, sent by a client as usual, for a QEMU (uid 65534) that can
 * open no image: blockdev-snapshot-sync and transactions become orchestrated snapshots, drive-backup
 * and blockdev-create get their new files from the broker, block queries show real paths, and a
 * node's fdset lives exactly as long as the node.
 */
class BrokeredCommandsIT {
    private static final Duration TIMEOUT = Sandbox.TIMEOUT;

    @Test
    void snapshotSyncAndTransactionsMakeOverlaysThatNameTheirBaseByItsRealPath() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Path a = box.overlays.resolve("disk0.a.qcow2");
            assertEquals("{\"return\": {}, \"id\": 1}", box.execute("{\"execute\": \"blockdev-snapshot-sync\", \"arguments\": "
                    + "{\"node-name\": \"disk0\", \"snapshot-file\": \"" + a + "\", \"snapshot-node-name\": \"disk0-a\"}, \"id\": 1}"));
            // The client sees the real paths it named, never the /dev/fdset sets behind them.
            String nodes = box.execute("{\"execute\": \"query-named-block-nodes\"}");
            assertTrue(nodes.contains("\"file\": \"" + a + "\""), nodes);
            assertFalse(nodes.contains("/dev/fdset/"), nodes);
            assertTrue(box.graph().contains("/dev/fdset/"), "QEMU itself has only fdsets");
            assertTrue(backingChain(a).contains("backing file: " + box.images.resolve("disk0.qcow2")));

            // A transaction of two snapshot-sync actions: both disks switch at once.
            Path b = box.overlays.resolve("disk0.b.qcow2");
            Path c = box.overlays.resolve("disk1.c.qcow2");
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"transaction\", \"arguments\": {\"actions\": ["
                    + sync("disk0-a", b, "disk0-b", "") + ", " + sync("disk1", c, "disk1-c", "") + "]}}"));
            assertTrue(backingChain(b).contains("backing file: " + a), backingChain(b));
            String graph = box.graph();
            assertTrue(graph.contains("\"node-name\": \"disk0-b\"") && graph.contains("\"node-name\": \"disk1-c\""), graph);

            // mode "existing": an overlay the operator made, opened as it is.
            Path d = box.overlays.resolve("disk1.d.qcow2");
            assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", c.toString(),
                    d.toString()).inheritIO().start().waitFor());
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"blockdev-snapshot-sync\", \"arguments\": "
                    + "{\"node-name\": \"disk1-c\", \"snapshot-file\": \"" + d + "\", \"snapshot-node-name\": \"disk1-d\", "
                    + "\"mode\": \"existing\"}}"));
            assertTrue(box.graph().contains("\"node-name\": \"disk1-d\""));

            // A transaction whose second action fails changes nothing and leaves no file.
            Path e = box.overlays.resolve("disk0.e.qcow2");
            String failed = box.execute("{\"execute\": \"transaction\", \"arguments\": {\"actions\": ["
                    + sync("disk0-b", e, "disk0-e", "") + ", " + sync("nosuch", box.overlays.resolve("f.qcow2"), "f", "") + "]}}");
            assertTrue(failed.contains("snapshot failed, nothing changed: no block node named 'nosuch'"), failed);
            assertFalse(Files.exists(e));
            // Formats other than qcow2 are refused up front.
            String raw = box.execute("{\"execute\": \"blockdev-snapshot-sync\", \"arguments\": {\"node-name\": \"disk0-b\", "
                    + "\"snapshot-file\": \"" + e + "\", \"format\": \"raw\"}}");
            assertTrue(raw.contains("snapshot overlays are made as qcow2"), raw);
            assertTrue(box.execute("{\"execute\": \"query-status\"}").contains("\"running\": true"));
        }
    }

    /**
     * QEMU 7.2 aborts (qcow2_get_specific_info: Assertion `false' failed) when it lists a qcow2 node
     * that a blockdev-create job is still opening, and a snapshot formats its overlays with such
     * jobs: another client's node listings wait while an overlay is formatted, so they never show
     * the temporary node it is formatted on, and QEMU lives.
     */
    @Test
    void nodeListingsOfAnotherClientWaitWhileASnapshotFormatsItsOverlays() throws Exception {
        try (Sandbox box = new Sandbox(); QmpClient lister = QmpClient.negotiated(box.listen, TIMEOUT)) {
            AtomicBoolean snapshotOver = new AtomicBoolean();
            CompletableFuture<List<String>> listings = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try {
                    listings.complete(listNodesUntil(lister, snapshotOver));
                } catch (IOException e) {
                    listings.completeExceptionally(e);
                }
            });
            try {
                // Each overlay's format job is a window of a few milliseconds: several of them.
                for (int i = 1; i <= 5; i++) {
                    String top = i == 1 ? "" : "-" + (i - 1);
                    assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"transaction\", \"arguments\": {\"actions\": ["
                            + sync("disk0" + top, box.overlays.resolve("disk0." + i + ".qcow2"), "disk0-" + i, "") + ", "
                            + sync("disk1" + top, box.overlays.resolve("disk1." + i + ".qcow2"), "disk1-" + i, "") + "]}}"),
                            box.diagnostics());
                }
            } finally {
                snapshotOver.set(true);
            }
            List<String> answers = listings.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertFalse(answers.isEmpty());
            for (String answer : answers) {
                assertTrue(answer.startsWith("{\"return\": [{"), answer);
                assertFalse(answer.contains("\"node-name\": \"qmpx-tmp-"), "a listing during a format job: " + answer);
            }
            assertTrue(box.query("query-status").contains("\"running\": true"), box.diagnostics());
        }
    }

    /** Asks for the node list, four requests at a time (as QEMU gets them: pipelined), until told to stop. */
    private static List<String> listNodesUntil(QmpClient client, AtomicBoolean stop) throws IOException {
        List<String> answers = new ArrayList<>();
        while (!stop.get()) {
            for (int i = 0; i < 4; i++) {
                client.send("{\"execute\": \"query-named-block-nodes\"}");
            }
            for (int i = 0; i < 4; i++) {
                answers.add(client.nextReply(TIMEOUT));
            }
        }
        return answers;
    }

    @Test
    void driveBackupAndBlockdevCreateGetTheirNewFilesFromTheBroker() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Path backup = box.overlays.resolve("disk0.backup.qcow2");
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"drive-backup\", \"arguments\": {\"job-id\": \"bk\", "
                    + "\"device\": \"disk0\", \"sync\": \"full\", \"format\": \"qcow2\", \"target\": \"" + backup + "\"}}"));
            Await.until("the backup job is over", TIMEOUT, () -> !box.query("query-block-jobs").contains("\"bk\""));
            assertEquals(0, new ProcessBuilder("qemu-img", "check", "-q", backup.toString()).inheritIO().start().waitFor());
            assertFalse(backingChain(backup).contains("backing file"), "a full backup stands alone");

            // A target QEMU would create naming its source as /dev/fdset/N: refused, no file made.
            Path top = box.overlays.resolve("top.qcow2");
            String refused = box.execute("{\"execute\": \"drive-backup\", \"arguments\": {\"job-id\": \"bk2\", "
                    + "\"device\": \"disk0\", \"sync\": \"top\", \"target\": \"" + top + "\"}}");
            assertTrue(refused.contains("would record the source's /dev/fdset name") && refused.contains("and use \\\"mode\\\": \\\"existing\\\""), refused);
            assertFalse(Files.exists(top));

            Path created = box.overlays.resolve("new.raw");
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"blockdev-create\", \"arguments\": {\"job-id\": \"cr\", "
                    + "\"options\": {\"driver\": \"file\", \"filename\": \"" + created + "\", \"size\": 1048576}}}"));
            Await.until("the create job concluded", TIMEOUT, () -> box.query("query-jobs").contains("\"status\": \"concluded\""));
            assertTrue(box.execute("{\"execute\": \"job-dismiss\", \"arguments\": {\"id\": \"cr\"}}").startsWith("{\"return\""));
            assertEquals(1048576, Files.size(created));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(created)));
            // Outside the whitelist: the broker's refusal reaches the client.
            String denied = box.execute("{\"execute\": \"blockdev-create\", \"arguments\": {\"job-id\": \"cr2\", "
                    + "\"options\": {\"driver\": \"file\", \"filename\": \"" + box.dir.resolve("outside.raw") + "\", \"size\": 4096}}}");
            assertTrue(denied.contains("qmpx broker refused " + box.dir.resolve("outside.raw")), denied);
            // QEMU refuses the command: the file the broker created for it is deleted again.
            Path refusedByQemu = box.overlays.resolve("refused.raw");
            String qemuError = box.execute("{\"execute\": \"blockdev-create\", \"arguments\": {\"job-id\": \"cr3\", "
                    + "\"options\": {\"driver\": \"file\", \"filename\": \"" + refusedByQemu + "\", \"size\": \"big\"}}}");
            assertTrue(qemuError.contains("Parameter 'options.size' expects uint64"), qemuError);
            Await.until("the refused command's file deleted", TIMEOUT, () -> !Files.exists(refusedByQemu));
            Await.until("its fdset removed", TIMEOUT, () -> !box.query("query-fdsets").contains(refusedByQemu.toString()));
        }
    }

    @Test
    void aNodesFdsetOutlivesTheClientThatAddedItAndGoesWithTheNode() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Path extra = box.images.resolve("extra.qcow2");
            assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", extra.toString(), "1M")
                    .inheritIO().start().waitFor());
            box.broker.allow("vm1", extra, "rw", false, false, false);
            try (QmpClient other = QmpClient.negotiated(box.listen, TIMEOUT)) {
                assertEquals("{\"return\": {}}", other.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
                        + "\"qcow2\", \"node-name\": \"extra\", \"file\": {\"driver\": \"file\", \"filename\": \"" + extra + "\"}}}", TIMEOUT));
            }
            box.proxy.awaitLog("disconnected", TIMEOUT);
            // The set keeps its fd and its tag: the node can reopen from it, a new proxy can map it.
            assertTrue(box.fdsets().contains("\"opaque\": \"qmpx1:guest:-1:" + extra + "\""), box.fdsets());
            assertTrue(box.execute("{\"execute\": \"query-block\"}").length() > 0);
            assertTrue(box.execute("{\"execute\": \"query-named-block-nodes\"}").contains("\"file\": \"" + extra + "\""));
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"blockdev-del\", \"arguments\": {\"node-name\": \"extra\"}}"));
            Await.until("the node's fdset removed with it", TIMEOUT, () -> !box.query("query-fdsets").contains(extra.toString()));
            assertTrue(box.fdsets().contains(box.images.resolve("disk0.qcow2").toString()), "other nodes' sets stay");
        }
    }

    @Test
    void aSnapshotOntoTheClientsOwnFdsetOfAnImageInUseIsRefused() throws Exception {
        try (GuestFixture guest = GuestFixture.start();
             QmpClient client = QmpClient.negotiated(guest.listen, TIMEOUT)) {
            Path image = guest.dir.resolve("in-use.qcow2");
            assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "1M")
                    .inheritIO().start().waitFor());
            byte[] header = Files.readAllBytes(image);
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
                FileDescriptor fd = file.getFD();
                client.sendWithFds("{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 5}}", fd);
                assertTrue(client.nextReply(TIMEOUT).contains("\"fdset-id\": 5"));
            }
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"qcow2\", "
                    + "\"node-name\": \"base\", \"file\": {\"driver\": \"file\", \"filename\": \"/dev/fdset/5\"}}}", TIMEOUT));
            // QEMU would reformat the image in use through the shared fd (qemu-facts §0.6).
            String refused = client.execute("{\"execute\": \"blockdev-snapshot-sync\", \"arguments\": {\"node-name\": \"base\", "
                    + "\"snapshot-file\": \"/dev/fdset/5\", \"snapshot-node-name\": \"over\", \"format\": \"qcow2\"}}", TIMEOUT);
            assertTrue(refused.contains("the target /dev/fdset/5 is an image a block node uses"), refused);
            String create = client.execute("{\"execute\": \"blockdev-create\", \"arguments\": {\"job-id\": \"c\", \"options\": "
                    + "{\"driver\": \"file\", \"filename\": \"/dev/fdset/5\", \"size\": 0}}}", TIMEOUT);
            assertTrue(create.contains("is an image a block node uses"), create);
            assertTrue(java.util.Arrays.equals(header, java.util.Arrays.copyOf(Files.readAllBytes(image), header.length)),
                    "the image is untouched");
            // The client's later commands go on as usual.
            assertTrue(client.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"status\": \"running\""));
        }
    }

    private static String sync(String node, Path file, String overlay, String extra) {
        return "{\"type\": \"blockdev-snapshot-sync\", \"data\": {\"node-name\": \"" + node + "\", \"snapshot-file\": \"" + file
                + "\", \"snapshot-node-name\": \"" + overlay + "\"" + extra + "}}";
    }

    static String backingChain(Path image) throws Exception {
        Process info = new ProcessBuilder("qemu-img", "info", "--force-share", "--backing-chain", image.toString())
                .redirectErrorStream(true).start();
        String chain = new String(info.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, info.waitFor(), chain);
        assertFalse(chain.contains("/dev/fdset") || chain.contains("json:"), chain);
        return chain;
    }
}
