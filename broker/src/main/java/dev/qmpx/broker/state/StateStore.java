package dev.qmpx.broker.state;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The broker's state file, {@code STATE-DIR/broker-state.json}: the state as one JSON line, then a
 * line {@code sha256:<hex of that line>}. Written atomically (temporary file, fsync, rename, fsync
 * of the directory), so a crash leaves the old file or the new one. A file that does not parse or
 * whose checksum does not match is reported and never loaded, not even in part. Thread-safe.
 */
public final class StateStore {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String CHECKSUM = "sha256:";

    private final Path file;

    public StateStore(Path stateDir) {
        this.file = stateDir.resolve("broker-state.json");
    }

    public Path file() {
        return file;
    }

    /** The saved state, or an empty one when there is no file yet. */
    public synchronized BrokerState load() throws IOException {
        if (!Files.exists(file)) {
            return BrokerState.empty();
        }
        String text = Files.readString(file, StandardCharsets.UTF_8);
        int split = text.lastIndexOf("\n" + CHECKSUM);
        if (split < 0 || !text.endsWith("\n")) {
            throw new IOException("state file " + file + " is torn or corrupt: no checksum line; not loading it");
        }
        String body = text.substring(0, split);
        String expected = text.substring(split + 1 + CHECKSUM.length(), text.length() - 1);
        if (!sha256(body).equals(expected)) {
            throw new IOException("state file " + file + " is corrupt: checksum mismatch; not loading it");
        }
        BrokerState state;
        try {
            state = MAPPER.readValue(body, BrokerState.class);
        } catch (IOException e) {
            throw new IOException("state file " + file + " is corrupt: " + e.getMessage() + "; not loading it", e);
        }
        if (state.version() != BrokerState.VERSION || state.guests() == null || state.leases() == null) {
            throw new IOException("state file " + file + " has version " + state.version()
                    + " or missing parts; this broker reads version " + BrokerState.VERSION);
        }
        return state;
    }

    public synchronized void save(BrokerState state) throws IOException {
        String body = MAPPER.writeValueAsString(state);
        byte[] bytes = (body + "\n" + CHECKSUM + sha256(body) + "\n").getBytes(StandardCharsets.UTF_8);
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            out.force(true);
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    private static String sha256(String body) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
