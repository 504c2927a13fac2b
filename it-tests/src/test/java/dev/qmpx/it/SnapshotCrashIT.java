package dev.qmpx.it;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crashes in the middle of a two-disk snapshot, on a real sandboxed QEMU with real proxy and broker
 * processes. The proxy's fault-injection points (qmpx.fault.stop-after-journal-records,
 * qmpx.fault.stop-after-undo-steps) stop it with SIGSTOP right after a given journal record, before
 * the step it announces, or after a step of an undo; the test then kills the proxy or QEMU (SIGKILL)
 * at exactly that point, and may restart QEMU before the next proxy recovers.
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
            GuestState before = GuestState.of(box);
            for (int record = 1; record <= COMMITTED_RECORD; record++) {
                Targets targets = Targets.in(box, "r" + record);
                crashDuringSnapshot(box, record, targets);
                if (record == COMMITTED_RECORD) {
                    // As if killed after the transaction ran but before its success was journaled: the
                    // graph of the same QEMU must show that it committed.
                    dropLastJournalRecord(box);
                }
                // A new proxy, started as after any crash, recovers before it serves anyone.
                box.startProxy(Map.of());
                assertTrue(box.execute("{\"execute\": \"query-status\"}").contains("\"running\": true"));
                assertFalse(Files.exists(journal(box)), "journal gone after record " + record);
                if (record < COMMITTED_RECORD) {
                    before.awaitBack(box, "after record " + record);
                    targets.assertUndone("after record " + record);
                    assertTrue(box.proxy.log().contains("undoing a snapshot interrupted by a crash"), box.proxy.log());
                } else {
                    // The transaction had run: the next proxy keeps it.
                    assertTrue(box.proxy.log().contains("had committed; completing it"), box.proxy.log());
                    String graph = box.graph();
                    assertTrue(graph.contains("\"backing_file_depth\": 1"), graph);
                    ImageFiles.assertIntact(targets.s0());
                    assertTrue(BrokeredCommandsIT.backingChain(targets.s1()).contains("backing file: " + box.images.resolve("disk1.qcow2")));
                }
                box.client.close();
                box.proxy.close();
            }
            box.assertBasesIntact();
            box.startProxy(Map.of());
        }
    }

    @Test
    void aSnapshotThatCommittedBeforeQemuWasRestartedKeepsTheOverlaysTheGuestWroteInto() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Targets targets = Targets.in(box, "c");
            stopDuringSnapshot(box, COMMITTED_RECORD, targets);
            // The transaction has run: the guest's writes now land in the overlays.
            Matcher overlay = Pattern.compile("qmpx-snap-disk0-[^\"]+").matcher(box.graph());
            assertTrue(overlay.find(), box.graph());
            // Flushed, as a guest's write that must survive a crash is: QEMU caches qcow2 metadata.
            for (String io : List.of("write -P 0x5a 0 64k", "flush")) {
                assertEquals("{\"return\": \"\"}", box.direct.execute("{\"execute\": \"human-monitor-command\", \"arguments\": "
                        + "{\"command-line\": \"qemu-io " + overlay.group() + " \\\"" + io + "\\\"\"}}", TIMEOUT));
            }
            killStoppedProxy(box);
            Map<Path, String> sums = targets.checksums();
            box.restartQemu();
            box.startProxy(Map.of());
            assertFalse(Files.exists(journal(box)), "journal ended");
            assertEquals(sums, targets.checksums(), "the overlays are kept untouched");
            ImageFiles.assertIntact(targets.s0());
            ImageFiles.assertIntact(targets.s1());
            assertTrue(box.proxy.log().contains("QEMU was restarted meanwhile: keeping the overlay files ["
                    + targets.s0() + ", " + targets.s1() + "]"), box.proxy.log());
            String read = ImageFiles.qemuIo(targets.s0(), "read -P 0x5a 0 64k");
            assertTrue(read.contains("read 65536/65536 bytes") && !read.contains("Pattern verification failed"), read);
            // Management rebuilds the new QEMU's graph on the overlays.
            box.addDisks();
            assertEquals("{\"return\": {}}", box.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"qcow2\", "
                    + "\"node-name\": \"top0\", \"backing\": \"disk0\", \"file\": {\"driver\": \"file\", \"filename\": \""
                    + targets.s0() + "\"}}}"));
        }
    }

    @Test
    void aSnapshotWhoseTransactionWasDueWhenQemuWasRestartedKeepsItsOverlaysAsItMayHaveCommitted() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Targets targets = Targets.in(box, "d");
            crashDuringSnapshot(box, COMMIT_RECORD, targets);
            Map<Path, String> sums = targets.checksums();
            box.restartQemu();
            box.startProxy(Map.of());
            assertFalse(Files.exists(journal(box)), "journal ended");
            assertEquals(sums, targets.checksums(), "the overlays are kept untouched");
            assertTrue(box.proxy.log().contains("may have committed"), box.proxy.log());
        }
    }

    @Test
    void aSnapshotThatHadNotCommittedBeforeQemuWasRestartedDeletesOnlyTheFilesItCreated() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Targets targets = Targets.in(box, "n");
            Map<Path, String> bases = box.baseChecksums();
            crashDuringSnapshot(box, COMMIT_RECORD - 1, targets);
            assertTrue(Files.exists(targets.s0()) && Files.exists(targets.s1()), "both overlays were created before the crash");
            box.restartQemu();
            box.startProxy(Map.of());
            assertFalse(Files.exists(journal(box)), "journal ended");
            targets.assertUndone("after QEMU's restart");
            assertEquals(bases, box.baseChecksums());
            assertTrue(box.proxy.log().contains("undoing a snapshot interrupted by a crash (13 journal records, QEMU was restarted meanwhile)"),
                    box.proxy.log());
        }
    }

    @Test
    void aProxyKilledInTheMiddleOfAnUndoIsFinishedByTheNextProxy() throws Exception {
        try (Sandbox box = new Sandbox()) {
            GuestState before = GuestState.of(box);
            Targets targets = Targets.in(box, "u");
            // The transaction fails; its undo (per disk: overlay node, format job, fdset; then the
            // files) stops after its 4th step: both overlay nodes deleted, one fdset removed, no file yet.
            stopAt(box, "qmpx.fault.stop-after-undo-steps", 4, SnapshotIT.transactionFailingAtItsLastAction(targets.s0(), targets.s1()));
            assertTrue(box.proxy.log().contains("snapshot failed, undoing 13 step(s): transaction: "), box.proxy.log());
            assertTrue(box.proxy.log().contains("(qmpx.fault.stop-after-undo-steps): stopping at pass 4"), box.proxy.log());
            assertTrue(Files.exists(targets.s0()) && Files.exists(targets.s1()), "the files are the undo's last step");
            killStoppedProxy(box);
            box.startProxy(Map.of());
            assertTrue(box.proxy.log().contains("undoing a snapshot interrupted by a crash"), box.proxy.log());
            assertFalse(Files.exists(journal(box)), "journal ended");
            before.awaitBack(box, "after the undo");
            targets.assertUndone("after the undo");
        }
    }

    @Test
    void qemuKilledWhileTheTransactionIsDueLeavesNoFileAndTheImagesIntact() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Targets targets = Targets.in(box, "k");
            Map<Path, String> bases = box.baseChecksums();
            stopDuringSnapshot(box, COMMIT_RECORD, targets);
            box.qemu.kill();
            signal(box.proxy.pid(), "CONT");
            // The client is told QEMU is gone; the proxy undoes the snapshot before it exits.
            String reply = box.client.nextReply(Duration.ofSeconds(60));
            assertTrue(reply.contains("QEMU"), reply);
            assertEquals(3, box.proxy.awaitExit(Duration.ofSeconds(60)), box.proxy.log());
            assertTrue(box.proxy.log().contains("snapshot failed, undoing"), box.proxy.log());
            targets.assertUndone("after QEMU was killed");
            box.assertBasesIntact();
            assertEquals(bases, box.baseChecksums());
            assertFalse(Files.exists(journal(box)));
            // A new QEMU runs the guest on its base images.
            box.restartQemu();
            box.startProxy(Map.of());
            assertTrue(box.execute("{\"execute\": \"query-status\"}").contains("\"running\": true"));
            box.addDisks();
            assertEquals(List.of("disk0", "disk1"), Sandbox.nodeNames(box.graph()).stream().filter(n -> !n.startsWith("#")).toList());
        }
    }

    @Test
    void qemuKilledAfterTheTransactionWasSentKeepsTheOverlaysForTheNextProxyToSettle() throws Exception {
        try (Sandbox box = new Sandbox()) {
            Targets targets = Targets.in(box, "u");
            Map<Path, String> bases = box.baseChecksums();
            stopDuringSnapshot(box, COMMIT_RECORD, targets);
            // QEMU stopped: the transaction the proxy sends next waits unread in QEMU's socket.
            signal(box.qemu.pid(), "STOP");
            awaitStopped(ProcessHandle.of(box.qemu.pid()).orElseThrow());
            signal(box.proxy.pid(), "CONT");
            Await.until("the transaction unread in QEMU's monitor socket", TIMEOUT, () -> unreadInput(box.qemu.pid()) > 0);
            box.qemu.kill();
            // The client is told QEMU is gone. The transaction may have run (and the guest written into
            // the overlays since): nothing is undone.
            String reply = box.client.nextReply(Duration.ofSeconds(60));
            assertTrue(reply.contains("connection to QEMU lost"), reply);
            assertEquals(3, box.proxy.awaitExit(Duration.ofSeconds(60)), box.proxy.log());
            assertTrue(box.proxy.log().contains("the snapshot's transaction got no answer"), box.proxy.log());
            assertFalse(box.proxy.log().contains("snapshot failed, undoing"), box.proxy.log());
            assertTrue(Files.exists(targets.s0()) && Files.exists(targets.s1()), "the overlays are kept");
            assertTrue(Files.exists(journal(box)), "the journal is left for the next proxy");
            assertEquals(bases, box.baseChecksums());
            // The next proxy, on a new QEMU, cannot tell either: it keeps the files and ends the journal.
            box.restartQemu();
            box.startProxy(Map.of());
            assertTrue(box.execute("{\"execute\": \"query-status\"}").contains("\"running\": true"));
            Await.until("the journal settled", TIMEOUT, () -> !Files.exists(journal(box)));
            assertTrue(Files.exists(targets.s0()) && Files.exists(targets.s1()), "still kept");
            box.assertBasesIntact();
        }
    }

    /** Bytes waiting unread in the process's connected unix sockets (ss's Recv-Q). */
    private static long unreadInput(long pid) {
        try {
            Process ss = new ProcessBuilder("ss", "-x", "-n", "-p").redirectErrorStream(true).start();
            String output = new String(ss.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            ss.waitFor();
            return output.lines().filter(line -> line.contains("pid=" + pid + ","))
                    .map(line -> line.trim().split("\\s+"))
                    .filter(words -> words.length > 2 && words[1].equals("ESTAB"))
                    .mapToLong(words -> Long.parseLong(words[2])).sum();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** A snapshot's two overlay files, beside a file of management's that no undo may touch. */
    private record Targets(Path s0, Path s1, Path unrelated) {
        private static final String MANAGEMENTS = "not the snapshot's";

        static Targets in(Sandbox box, String prefix) throws Exception {
            Path unrelated = box.overlays.resolve("management.qcow2");
            if (!Files.exists(unrelated)) {
                Files.writeString(unrelated, MANAGEMENTS);
            }
            return new Targets(box.overlays.resolve(prefix + "-disk0.qcow2"), box.overlays.resolve(prefix + "-disk1.qcow2"), unrelated);
        }

        String snapshotCommand() {
            return "{\"execute\": \"__dev.qmpx_snapshot\", \"arguments\": {\"targets\": [{\"node\": \"disk0\", \"file\": \"" + s0
                    + "\"}, {\"node\": \"disk1\", \"file\": \"" + s1 + "\"}]}}";
        }

        Map<Path, String> checksums() throws Exception {
            return Map.of(s0, ImageFiles.sha256(s0), s1, ImageFiles.sha256(s1));
        }

        /** The overlays are gone, and nothing else in their directory was touched. */
        void assertUndone(String when) throws Exception {
            try (var files = Files.list(s0.getParent())) {
                assertEquals(List.of(unrelated), files.toList(), "no stray files " + when);
            }
            assertEquals(MANAGEMENTS, Files.readString(unrelated));
        }
    }

    /** Starts a proxy that stops after the given journal record, sends a snapshot, and kills the proxy there. */
    private static void crashDuringSnapshot(Sandbox box, int record, Targets targets) throws Exception {
        stopDuringSnapshot(box, record, targets);
        killStoppedProxy(box);
    }

    /** Starts a proxy that stops after the given journal record and sends it a snapshot; returns once it has stopped. */
    private static void stopDuringSnapshot(Sandbox box, int record, Targets targets) throws Exception {
        stopAt(box, "qmpx.fault.stop-after-journal-records", record, targets.snapshotCommand());
    }

    /** Starts a proxy that stops at the given pass of a fault point, sends it the command; returns once it has stopped. */
    private static void stopAt(Sandbox box, String faultPoint, int pass, String command) throws Exception {
        box.client.close();
        box.proxy.close();
        box.startProxy(Map.of("QMPX_JAVA_OPTIONS", "-D" + faultPoint + "=" + pass));
        box.client.send(command);
        try {
            awaitStopped(box.proxy.process.toHandle());
        } catch (AssertionError e) {
            throw new AssertionError(faultPoint + "=" + pass + ": " + e.getMessage() + box.diagnostics(), e);
        }
    }

    private static void killStoppedProxy(Sandbox box) throws Exception {
        box.proxy.process.destroyForcibly();
        box.proxy.process.waitFor();
        box.client.close();
        assertTrue(Files.exists(journal(box)), "the killed proxy left its journal");
    }

    /** The guest is named after QEMU's socket file, qemu.sock. */
    private static Path journal(Sandbox box) {
        return box.dir.resolve("state/qemu.snapshot-journal");
    }

    private static void dropLastJournalRecord(Sandbox box) throws Exception {
        List<String> records = Files.readAllLines(journal(box));
        Files.write(journal(box), records.subList(0, records.size() - 1));
    }

    private static void awaitStopped(ProcessHandle process) {
        Await.until("process " + process.pid() + " stopped", TIMEOUT, () -> {
            try {
                String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
                return stat.substring(stat.lastIndexOf(')') + 2).startsWith("T");
            } catch (java.io.IOException e) {
                throw new AssertionError("process " + process.pid() + " exited instead of stopping", e);
            }
        });
    }

    private static void signal(long pid, String signal) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor());
    }
}
