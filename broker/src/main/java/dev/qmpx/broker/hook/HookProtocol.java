package dev.qmpx.broker.hook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.audit.AuditLog;
import dev.qmpx.broker.open.Posix;
import dev.qmpx.broker.service.Broker;
import dev.qmpx.broker.service.OpenRequest;
import dev.qmpx.broker.service.OpenResult;
import dev.qmpx.broker.wire.JsonSocketServer;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.JsonStreamer;
import dev.qmpx.qmp.json.QemuJson;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The open-hook protocol on a guest's socket: {@code {"open": "/abs/path", "access": "r"|"rw",
 * "create": false, "id": ANY}} answered by {@code {"id": ANY, "return": {}}} with the fd in the
 * same sendmsg, or {@code {"id": ANY, "error": {"class": ..., "desc": ...}}}. The socket a request
 * arrives on is the guest's identity. The broker closes its copy of a granted fd once it is sent.
 */
public final class HookProtocol implements JsonSocketServer.Session {
    private static final Logger LOG = Logger.getLogger(HookProtocol.class.getName());
    private static final Set<String> MEMBERS = Set.of("open", "access", "create", "id");
    private static final Set<String> UNLINK_MEMBERS = Set.of("unlink", "id");

    private final Broker broker;
    private final String guest;
    private final AuditLog.Peer peer;

    private HookProtocol(Broker broker, String guest, AuditLog.Peer peer) {
        this.broker = broker;
        this.guest = guest;
        this.peer = peer;
    }

    public static JsonSocketServer.SessionFactory sessions(Broker broker, String guest) {
        return (peer, replies) -> {
            LOG.info(guest + ": requester connected (pid=" + peer.pid() + " uid=" + peer.uid() + " gid=" + peer.gid() + ")");
            return new HookProtocol(broker, guest, peer);
        };
    }

    @Override
    public void onRequest(JsonStreamer.Item item, JsonSocketServer.Replies replies) throws IOException {
        if (!(item instanceof JsonStreamer.Parsed parsed) || !(parsed.message().tree() instanceof ObjectNode request)) {
            String reason = item instanceof JsonStreamer.Failed failed ? failed.desc() : "a request must be a JSON object";
            broker.denyMalformed(guest, peer, reason);
            replies.send(error(null, "InvalidRequest", reason));
            return;
        }
        String id = rawId(parsed.message());
        if (request.has("unlink")) {
            unlink(request, id, replies);
            return;
        }
        String problem = problem(request);
        if (problem != null) {
            broker.denyMalformed(guest, peer, problem);
            replies.send(error(id, "InvalidRequest", problem));
            return;
        }
        OpenRequest open = new OpenRequest(request.get("open").textValue(),
                "rw".equals(request.path("access").asText("r")), request.path("create").asBoolean(false));
        switch (broker.open(guest, peer, open)) {
            case OpenResult.Granted granted -> {
                try {
                    replies.sendWithFd(reply(id, "\"return\": {}"), granted.fd());
                } finally {
                    Posix.close(granted.fd());
                }
            }
            case OpenResult.Denied denied -> replies.send(error(id, denied.errorClass(), denied.desc()));
        }
    }

    /** {"unlink": "/abs/path"}: undo of a create, answered {"return": {}} without an fd. */
    private void unlink(ObjectNode request, String id, JsonSocketServer.Replies replies) throws IOException {
        for (Iterator<String> names = request.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!UNLINK_MEMBERS.contains(name) || !request.path("unlink").isTextual()) {
                String reason = "an unlink request has a string 'unlink' and an optional 'id'";
                broker.denyMalformed(guest, peer, reason);
                replies.send(error(id, "InvalidRequest", reason));
                return;
            }
        }
        switch (broker.unlink(guest, peer, request.get("unlink").textValue())) {
            case OpenResult.Granted granted -> replies.send(reply(id, "\"return\": {}"));
            case OpenResult.Denied denied -> replies.send(error(id, denied.errorClass(), denied.desc()));
        }
    }

    private static String problem(ObjectNode request) {
        for (Iterator<String> names = request.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!MEMBERS.contains(name)) {
                return "unknown member '" + name + "' (a request has open, access, create, id)";
            }
        }
        if (!request.path("open").isTextual()) {
            return "'open' must be the path to open, a string";
        }
        JsonNode access = request.get("access");
        if (access != null && !(access.isTextual() && (access.textValue().equals("r") || access.textValue().equals("rw")))) {
            return "'access' must be \"r\" or \"rw\"";
        }
        if (request.has("create") && !request.get("create").isBoolean()) {
            return "'create' must be true or false";
        }
        return null;
    }

    private static String rawId(JsonMessage message) {
        JsonMessage.Member id = message.member("id");
        return id == null ? null : new String(QemuJson.withDoubleQuotes(message.valueBytes(id)), StandardCharsets.UTF_8);
    }

    static String error(String id, String errorClass, String desc) {
        return reply(id, "\"error\": {\"class\": " + QemuJson.quote(errorClass) + ", \"desc\": " + QemuJson.quote(desc) + "}");
    }

    private static String reply(String id, String body) {
        return "{" + (id == null ? "" : "\"id\": " + id + ", ") + body + "}";
    }
}
