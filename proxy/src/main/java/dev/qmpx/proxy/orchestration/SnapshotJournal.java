package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The write-ahead record of one guest's snapshot in progress, so that a proxy killed in the middle
 * can finish or undo it when it starts again. Each step is written and forced to disk before it is
 * taken; one JSON object per line. The file exists only while a snapshot runs: it is deleted once
 * the snapshot has committed or been undone.
 *
 * <p>Owned by the thread running the guest's one orchestration (the guest's job admits one at a
 * time), or by the recovery before the guest serves clients.
 *
 * <p>For fault-injection tests, the system property {@code qmpx.fault.stop-after-journal-records=N}
 * makes the process stop itself (SIGSTOP) right after the N-th record of a snapshot is on disk,
 * before the step it announces: the test then kills the proxy, QEMU or the broker at exactly that
 * point, and kills or continues the proxy.
 */
public final class SnapshotJournal {
    private static final Logger LOG = Logger.getLogger(SnapshotJournal.class.getName());
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int STOP_AFTER = Integer.getInteger("qmpx.fault.stop-after-journal-records", -1);

    private final Path file;
    private FileChannel channel;
    private int records;

    public SnapshotJournal(Path stateDir, String guest) {
        this.file = stateDir.resolve(guest + ".snapshot-journal");
    }

    public Path file() {
        return file;
    }

    /** Starts the record of a snapshot; the file must not exist (an earlier one was recovered). */
    public synchronized void begin(ObjectNode first) throws IOException {
        Files.createDirectories(file.getParent(), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        records = 0;
        syncDirectory();
        record(first);
    }

    /** Writes a step, forced to disk, before the caller takes it. */
    public synchronized void record(ObjectNode step) throws IOException {
        channel.write(ByteBuffer.wrap((MAPPER.writeValueAsString(step) + "\n").getBytes(StandardCharsets.UTF_8)));
        channel.force(false);
        records++;
        if (records == STOP_AFTER) {
            LOG.severe("fault injection: stopping after journal record " + records + ": " + step);
            try {
                new ProcessBuilder("kill", "-STOP", Long.toString(ProcessHandle.current().pid())).start().waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The snapshot is over (committed or undone): nothing is left to recover. */
    public synchronized void end() {
        try {
            if (channel != null) {
                channel.close();
                channel = null;
            }
            Files.deleteIfExists(file);
            syncDirectory();
        } catch (IOException e) {
            LOG.severe("cannot delete the snapshot journal " + file + ": " + e.getMessage()
                    + "; the next start will check a snapshot that is already over");
        }
    }

    /** A snapshot of this process is running or still being undone: nothing to recover. */
    public synchronized boolean active() {
        return channel != null;
    }

    /** Takes over the record an earlier process left, to undo it. */
    public synchronized void resume() throws IOException {
        channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    /** The records of a snapshot an earlier process left unfinished, or an empty list. */
    public List<JsonNode> unfinished() throws IOException {
        List<JsonNode> steps = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return steps;
        }
        for (String line : lines) {
            try {
                steps.add(MAPPER.readTree(line));
            } catch (IOException e) {
                // A record torn by the crash was never acted on: the step it announced was not taken.
                LOG.warning("snapshot journal " + file + ": ignoring a torn last record: " + line);
            }
        }
        return steps;
    }

    private void syncDirectory() throws IOException {
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }
}
