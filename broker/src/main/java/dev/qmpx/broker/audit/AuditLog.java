package dev.qmpx.broker.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One JSON line per grant and per denial: time, guest, path, access, create, peer pid/uid, result,
 * and for a denial its class and reason. Thread-safe; each line is written and flushed whole.
 */
public final class AuditLog {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final OutputStream out;

    public AuditLog(OutputStream out) {
        this.out = out;
    }

    /** The peer a request came from (SO_PEERCRED). */
    public record Peer(long pid, long uid, long gid) {
    }

    public void grant(String guest, String path, String access, boolean create, Peer peer) {
        write(line(guest, path, access, create, peer).put("result", "grant"));
    }

    public void deny(String guest, String path, String access, boolean create, Peer peer, String errorClass, String reason) {
        write(line(guest, path, access, create, peer).put("result", "deny").put("class", errorClass).put("reason", reason));
    }

    private static ObjectNode line(String guest, String path, String access, boolean create, Peer peer) {
        ObjectNode line = MAPPER.createObjectNode().put("time", Instant.now().toString()).put("guest", guest);
        line.put("path", path).put("access", access).put("create", create);
        return line.put("pid", peer.pid()).put("uid", peer.uid()).put("gid", peer.gid());
    }

    private synchronized void write(ObjectNode line) {
        try {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the audit log", e);
        }
    }
}
