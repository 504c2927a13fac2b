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
 * makes the process stop itself (SIGSTOP, {@link FaultPoint}) right after the N-th record of a
 * snapshot is on disk, before the step it announces.
 */
public final class SnapshotJournal {
    private static final Logger LOG = Logger.getLogger(SnapshotJournal.class.getName());
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path file;
    private final FaultPoint afterRecord = new FaultPoint("qmpx.fault.stop-after-journal-records");
    private FileChannel channel;

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
        afterRecord.reset();
        syncDirectory();
        record(first);
    }

    /** Writes a step, forced to disk, before the caller takes it. */
    public synchronized void record(ObjectNode step) throws IOException {
        channel.write(ByteBuffer.wrap((MAPPER.writeValueAsString(step) + "\n").getBytes(StandardCharsets.UTF_8)));
        channel.force(false);
        afterRecord.pass(step);
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

    /**
     * The snapshot's outcome is unknown (its transaction went unanswered): the record stays for
     * the recovery at the next connection to QEMU, which can tell from the graph or keeps the files.
     */
    public synchronized void leave() {
        try {
            if (channel != null) {
                channel.close();
                channel = null;
            }
        } catch (IOException e) {
            LOG.warning("closing the snapshot journal " + file + ": " + e.getMessage());
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
