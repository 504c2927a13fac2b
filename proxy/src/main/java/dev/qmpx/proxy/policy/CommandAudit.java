package dev.qmpx.proxy.policy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One JSON line per command that changes state (and per refused command): time, guest, client
 * (name, pid, uid, gid, listener), command, result (return, an error class, denied, timeout),
 * duration. Thread-safe.
 */
public final class CommandAudit {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final OutputStream out;

    public CommandAudit(OutputStream out) {
        this.out = out;
    }

    /** Who sent a command. */
    public record Client(String name, long pid, long uid, long gid, String listener) {
    }

    public synchronized void record(String guest, Client client, String command, String result, long durationMicros) {
        ObjectNode line = MAPPER.createObjectNode().put("time", Instant.now().toString()).put("guest", guest)
                .put("client", client.name()).put("pid", client.pid()).put("uid", client.uid()).put("gid", client.gid())
                .put("listener", client.listener()).put("command", command).put("result", result)
                .put("duration-us", durationMicros);
        try {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the command audit", e);
        }
    }
}
