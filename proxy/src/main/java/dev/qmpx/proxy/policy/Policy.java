package dev.qmpx.proxy.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which role a client gets: the first rule matching its listener and/or SO_PEERCRED uid/gid, else
 * the default. Without a policy file every client is admin. A policy file:
 * <pre>
 * {"roles": {"backup": {"allow": ["@query", "blockdev-backup", "job-*"], "events": true}},
 *  "rules": [{"listener": "/run/qmpx/vm1-ro.sock", "role": "readonly"},
 *            {"uid": 1001, "role": "backup"}, {"gid": 27, "role": "operator"}],
 *  "default": "readonly"}
 * </pre>
 * Immutable.
 */
public final class Policy {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private record Rule(String listener, Long uid, Long gid, Role role) {
        boolean matches(String clientListener, long clientUid, long clientGid) {
            return (listener == null || listener.equals(clientListener))
                    && (uid == null || uid == clientUid) && (gid == null || gid == clientGid);
        }
    }

    private final List<Rule> rules;
    private final Role fallback;

    private Policy(List<Rule> rules, Role fallback) {
        this.rules = List.copyOf(rules);
        this.fallback = fallback;
    }

    public static Policy everyoneAdmin() {
        return new Policy(List.of(), Role.ADMIN);
    }

    public static Policy load(Path file) throws IOException {
        JsonNode root = MAPPER.readTree(file.toFile());
        strict(root, Set.of("roles", "rules", "default"), file, "the policy");
        for (JsonNode role : root.path("roles")) {
            strict(role, Set.of("allow", "deny", "events"), file, "a role");
        }
        for (JsonNode rule : root.path("rules")) {
            strict(rule, Set.of("listener", "uid", "gid", "role"), file, "a rule");
            for (String id : List.of("uid", "gid")) {
                if (rule.has(id) && !(rule.get(id).isIntegralNumber() && rule.get(id).asLong() >= 0)) {
                    throw new IOException(file + ": '" + id + "' must be a whole number: " + rule);
                }
            }
        }
        Map<String, Role> roles = new HashMap<>(Map.of("admin", Role.ADMIN, "operator", Role.OPERATOR, "readonly", Role.READONLY));
        root.path("roles").properties().forEach(e -> roles.put(e.getKey(), new Role(e.getKey(),
                strings(e.getValue().path("allow")), strings(e.getValue().path("deny")), e.getValue().path("events").asBoolean(true))));
        List<Rule> rules = new ArrayList<>();
        for (JsonNode rule : root.path("rules")) {
            if (!rule.has("listener") && !rule.has("uid") && !rule.has("gid")) {
                throw new IOException(file + ": a rule needs listener, uid or gid: " + rule);
            }
            rules.add(new Rule(rule.has("listener") ? rule.get("listener").asText() : null,
                    rule.has("uid") ? rule.get("uid").asLong() : null, rule.has("gid") ? rule.get("gid").asLong() : null,
                    role(roles, rule.path("role").asText(), file)));
        }
        return new Policy(rules, role(roles, root.path("default").asText("admin"), file));
    }

    /** A mistyped member (say "deni") would silently widen a role: refused instead. */
    private static void strict(JsonNode node, Set<String> known, Path file, String what) throws IOException {
        for (var names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                throw new IOException(file + ": unknown member '" + name + "' in " + what + " (known: " + known + ")");
            }
        }
    }

    private static Role role(Map<String, Role> roles, String name, Path file) throws IOException {
        Role role = roles.get(name);
        if (role == null) {
            throw new IOException(file + ": no role named '" + name + "' (built in: admin, operator, readonly)");
        }
        return role;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(node -> out.add(node.asText()));
        return out;
    }

    public Role roleFor(String listener, long uid, long gid) {
        for (Rule rule : rules) {
            if (rule.matches(listener, uid, gid)) {
                return rule.role();
            }
        }
        return fallback;
    }
}
