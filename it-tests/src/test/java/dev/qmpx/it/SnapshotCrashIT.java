package dev.qmpx.it;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crashes in the middle of a two-disk snapshot, on a real sandboxed QEMU with real proxy and broker
 * processes. The proxy's fault-injection point (qmpx.fault.stop-after-journal-records) stops it with
 * SIGSTOP right after a given journal record, before the step it announces; the test then kills the
 * proxy (SIGKILL) or QEMU at exactly that point.
 */
class SnapshotCrashIT {
    private static final Duration TIMEOUT = Sandbox.TIMEOUT;
    /**
     * A two-disk snapshot's journal: 1 begin; per disk: create, fdset, temporary node, format job,
     * temporary node deleted, overlay node (2-7, 8-13); 14 commit; 15 committed.
     */
    private static final int COMMIT_RECORD = 14;
    private static final int COMMITTED_RECORD = 15;

    @Test
    void aProxyKilledAfterAnyJournalRecordIsUndoneOrFinishedByTheNextProxy() throws Exception {
        try (Sandbox box = new Sandbox()) {
            List<String> nodesBefore = Sandbox.nodeNames(box.graph());
            String fdsetsBefore = box.fdsets();
            Map<Integer, String> qemuFdsBefore = ProcFds.targets(box.qemu.pid());
            for (int record = 1; record <= COMMITTED_RECORD; record++) {
                Path s0 = box.overlays.resolve("r" + record + "-disk0.qcow2");
                Path s1 = box.overlays.resolve("r" + record + "-disk1.qcow2");
                crashDuringSnapshot(box, record, s0, s1);
                // A new proxy, started as after any crash, recovers before it serves anyone.
                box.startProxy(Map.of());
                assertTrue(box.execute("{\"execute\": \"query-status\"}").contains("\"running\": true"));
                assertFalse(Files.exists(box.dir.resolve("state/qmp.snapshot-journal")), "journal gone after record " + record);
                if (record < COMMITTED_RECORD) {
                    assertEquals(nodesBefore, Sandbox.nodeNames(box.graph()), "graph after record " + record);
                    Await.until("fdsets as before after record " + record, TIMEOUT, () -> box.fdsets().equals(fdsetsBefore));
                    ProcFds.awaitCount("QEMU after record " + record, box.qemu.pid(), qemuFdsBefore, TIMEOUT);
                    try (var files = Files.list(box.overlays)) {
                        assertEquals(List.of(), files.toList(), "no stray files after record " + record);
                    }
                    assertTrue(box.proxy.log().contains("undoing a snapshot interrupted by a crash"), box.proxy.log());
                } else {
                    // The transaction had run: the next proxy keeps it.
                    assertTrue(box.proxy.log().contains("had committed; completing it"), box.proxy.log());
                    String graph = box.graph();
                    assertTrue(graph.contains("\"backing_file_depth\": 1"), graph);
                    assertEquals(0, new ProcessBuilder("qemu-img", "check", "-q", "--force-share", s0.toString())
                            .inheritIO().start().waitFor());
                    assertTrue(BrokeredCommandsIT.backingChain(s1).contains("backing file: " + box.images.resolve("disk1.qcow2")));
                }
                box.client.close();
                box.proxy.close();
            }
            for (String disk : List.of("disk0", "disk1")) {
                assertEquals(0, new ProcessBuilder("qemu-img", "check", "-q", "--force-share",
                        box.images.resolve(disk + ".qcow2").toString()).inheritIO().start().waitFor(), disk + " intact");
            }
            box.startProxy(Map.of());
        }
    }

    @Test
    void qemuKilledWhileTheTransactionIsDueLeavesNoFileAndTheImagesIntact() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Path s0 = box.overlays.resolve("k-disk0.qcow2");
            Path s1 = box.overlays.resolve("k-disk1.qcow2");
            box.client.close();
            box.proxy.close();
            box.startProxy(Map.of("QMPX_JAVA_OPTIONS", "-Dqmpx.fault.stop-after-journal-records=" + COMMIT_RECORD));
            box.client.send(snapshotCommand(s0, s1));
            awaitStopped(box.proxy.process.toHandle());
            box.qemu.close();
            signal(box.proxy.pid(), "CONT");
            // The client is told QEMU is gone; the proxy undoes the snapshot before it exits.
            String reply = box.client.nextReply(Duration.ofSeconds(60));
            assertTrue(reply.contains("QEMU"), reply);
            assertEquals(3, box.proxy.awaitExit(Duration.ofSeconds(60)), box.proxy.log());
            assertFalse(Files.exists(s0) || Files.exists(s1), "the overlays were deleted");
            assertTrue(box.proxy.log().contains("snapshot failed, undoing"), box.proxy.log());
            for (String disk : List.of("disk0", "disk1")) {
                assertEquals(0, new ProcessBuilder("qemu-img", "check", "-q", box.images.resolve(disk + ".qcow2").toString())
                        .inheritIO().start().waitFor(), disk + " intact");
            }
            assertFalse(Files.exists(box.dir.resolve("state/qmp.snapshot-journal")));
        }
    }

    /** Starts a proxy that stops after the given journal record, sends a snapshot, and kills the proxy there. */
    private static void crashDuringSnapshot(Sandbox box, int record, Path s0, Path s1) throws Exception {
        box.client.close();
        box.proxy.close();
        box.startProxy(Map.of("QMPX_JAVA_OPTIONS", "-Dqmpx.fault.stop-after-journal-records=" + record));
        box.client.send(snapshotCommand(s0, s1));
        awaitStopped(box.proxy.process.toHandle());
        box.proxy.process.destroyForcibly();
        box.proxy.process.waitFor();
        box.client.close();
    }

    private static String snapshotCommand(Path s0, Path s1) {
        return "{\"execute\": \"__dev.qmpx_snapshot\", \"arguments\": {\"targets\": [{\"node\": \"disk0\", \"file\": \"" + s0
                + "\"}, {\"node\": \"disk1\", \"file\": \"" + s1 + "\"}]}}";
    }

    private static void awaitStopped(ProcessHandle process) {
        Await.until("the proxy stopped at its fault-injection point", TIMEOUT, () -> {
            try {
                String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
                return stat.substring(stat.lastIndexOf(')') + 2).startsWith("T");
            } catch (java.io.IOException e) {
                throw new AssertionError("the proxy exited instead of stopping", e);
            }
        });
    }

    private static void signal(long pid, String signal) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor());
    }
}
