package dev.qmpx.broker.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.audit.AuditLog;
import dev.qmpx.broker.service.AdminException;
import dev.qmpx.broker.service.Broker;
import dev.qmpx.broker.whitelist.Entry;
import dev.qmpx.broker.whitelist.Right;
import dev.qmpx.broker.wire.JsonSocketServer;
import dev.qmpx.qmp.json.JsonStreamer;

import java.io.IOException;
import java.util.EnumSet;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The admin socket: one JSON request per line, {@code {"op": NAME, ...}}, answered
 * {@code {"return": VALUE}} or {@code {"error": {"class": ..., "desc": ...}}}. Served only to root
 * and to the broker's own uid. Operations: register, unregister, allow, revoke, whitelist, grants,
 * status.
 */
public final class AdminProtocol implements JsonSocketServer.Session {
    private static final Logger LOG = Logger.getLogger(AdminProtocol.class.getName());
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** What registration changes mean for hook sockets. */
    public interface Listeners {
        String started(String guest, Integer uid) throws AdminException;

        void stopped(String guest);
    }

    private final Broker broker;
    private final Listeners listeners;

    private AdminProtocol(Broker broker, Listeners listeners) {
        this.broker = broker;
        this.listeners = listeners;
    }

    public static JsonSocketServer.SessionFactory sessions(Broker broker, Listeners listeners, long ownUid) {
        return (peer, replies) -> {
            if (peer.uid() != 0 && peer.uid() != ownUid) {
                LOG.warning("admin connection refused: uid " + peer.uid() + " (pid " + peer.pid() + ") is neither root nor "
                        + ownUid);
                replies.send(error("PermissionDenied", "the admin socket serves root and uid " + ownUid + " only"));
                return null;
            }
            return new AdminProtocol(broker, listeners);
        };
    }

    @Override
    public void onRequest(JsonStreamer.Item item, JsonSocketServer.Replies replies) throws IOException {
        if (!(item instanceof JsonStreamer.Parsed parsed) || !(parsed.message().tree() instanceof ObjectNode request)) {
            replies.send(error("InvalidRequest", item instanceof JsonStreamer.Failed f ? f.desc() : "a request must be a JSON object"));
            return;
        }
        try {
            JsonNode result = run(request);
            replies.send("{\"return\": " + MAPPER.writeValueAsString(result) + "}");
        } catch (AdminException e) {
            replies.send(error(e.errorClass(), e.getMessage()));
        } catch (IllegalArgumentException e) {
            replies.send(error("InvalidRequest", e.getMessage()));
        }
    }

    private JsonNode run(ObjectNode request) throws AdminException, IOException {
        String op = request.path("op").asText("");
        return switch (op) {
            case "register" -> {
                JsonNode uid = request.get("uid");
                if (uid != null && !uid.isNull() && !(uid.isIntegralNumber() && uid.asLong() >= 0 && uid.asLong() <= Integer.MAX_VALUE)) {
                    throw new IllegalArgumentException("'uid' must be a whole number from 0 to " + Integer.MAX_VALUE);
                }
                String name = text(request, "guest");
                Integer bound = uid == null || uid.isNull() ? null : uid.asInt();
                Broker.checkGuestName(name);
                // The socket first: a guest whose socket cannot exist is never saved.
                String socket = listeners.started(name, bound);
                broker.register(name, bound);
                yield MAPPER.createObjectNode().put("socket", socket);
            }
            case "unregister" -> {
                String guest = text(request, "guest");
                broker.unregister(guest);
                listeners.stopped(guest);
                yield MAPPER.createObjectNode();
            }
            case "allow" -> {
                String access = request.path("access").asText("r");
                if (!access.equals("r") && !access.equals("rw")) {
                    throw new IllegalArgumentException("access must be r or rw");
                }
                Set<Right> rights = EnumSet.of(Right.READ);
                if (access.equals("rw")) {
                    rights.add(Right.WRITE);
                }
                if (request.path("create").asBoolean(false)) {
                    rights.add(Right.CREATE);
                }
                Entry entry = new Entry(text(request, "path"), request.path("prefix").asBoolean(false), rights,
                        request.path("special").asBoolean(false));
                broker.allow(text(request, "guest"), entry);
                yield entryJson(entry);
            }
            case "revoke" -> entryJson(broker.revoke(text(request, "guest"), text(request, "path")));
            case "whitelist" -> {
                String name = text(request, "guest");
                Broker.Guest guest = broker.guest(name);
                if (guest == null) {
                    throw new AdminException("NotFound", "guest " + name + " is not registered");
                }
                ArrayNode entries = MAPPER.createArrayNode();
                guest.whitelist().entries().forEach(e -> entries.add(entryJson(e)));
                ObjectNode leases = MAPPER.createObjectNode();
                broker.leases(name).forEach((path, exclusive) -> leases.put(path, exclusive ? "exclusive" : "shared"));
                yield MAPPER.createObjectNode().put("guest", name).putPOJO("uid", guest.uid())
                        .<ObjectNode>set("entries", entries).set("leases", leases);
            }
            case "grants" -> MAPPER.valueToTree(broker.grants(request.path("guest").isTextual() ? request.get("guest").textValue() : null));
            case "status" -> {
                ArrayNode guests = MAPPER.createArrayNode();
                broker.guests().forEach(g -> guests.add(g.name()));
                yield MAPPER.createObjectNode().put("serving", broker.lockFailure() == null)
                        .put("lock-manager-failure", broker.lockFailure()).set("guests", guests);
            }
            default -> throw new IllegalArgumentException("unknown op '" + op
                    + "' (register, unregister, allow, revoke, whitelist, grants, status)");
        };
    }

    private static ObjectNode entryJson(Entry e) {
        return MAPPER.createObjectNode().put("path", e.path()).put("prefix", e.prefix())
                .put("access", e.rights().contains(Right.WRITE) ? "rw" : "r")
                .put("create", e.rights().contains(Right.CREATE)).put("special", e.specialFiles());
    }

    private static String text(ObjectNode request, String name) {
        JsonNode value = request.get(name);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException("'" + name + "' is required and must be a string");
        }
        return value.textValue();
    }

    private static String error(String errorClass, String desc) {
        ObjectNode error = MAPPER.createObjectNode();
        error.putObject("error").put("class", errorClass).put("desc", desc);
        return error.toString();
    }
}
