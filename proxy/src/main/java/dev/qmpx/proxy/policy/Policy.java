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
 * Which role a client gets: the first rule matching its listener and/or SO_PEERCRED uid/gid (unix
 * clients), or its TLS certificate's subject or alternative name or its bearer token (network
 * clients), else the default. Without a policy file every client is admin. A policy file:
 * <pre>
 * {"roles": {"backup": {"allow": ["@query", "blockdev-backup", "job-*"], "events": true}},
 *  "rules": [{"listener": "/run/qmpx/vm1-ro.sock", "role": "readonly"},
 *            {"uid": 1001, "role": "backup"}, {"gid": 27, "role": "operator"},
 *            {"subject": "CN=backup,O=example", "role": "backup"}, {"san": "ops.example.com", "role": "operator"},
 *            {"token-sha256": "9f86d081884c7d65...", "role": "readonly"}],
 *  "default": "readonly"}
 * </pre>
 * A bearer token is valid only if a rule names its SHA-256.
 * Immutable.
 */
public final class Policy {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private record Rule(String listener, Long uid, Long gid, String subject, String san, String tokenSha256, Role role) {
        boolean matches(String clientListener, long clientUid, long clientGid, RemoteIdentity remote) {
            return (listener == null || listener.equals(clientListener))
                    && (uid == null || uid == clientUid) && (gid == null || gid == clientGid)
                    && (subject == null || remote != null && subject.equals(remote.subject()))
                    && (san == null || remote != null && remote.sans().contains(san))
                    && (tokenSha256 == null || remote != null && tokenSha256.equals(remote.tokenSha256()));
        }
    }

    private static final Set<String> MATCH_KEYS = Set.of("listener", "uid", "gid", "subject", "san", "token-sha256");

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
            strict(rule, Set.of("listener", "uid", "gid", "subject", "san", "token-sha256", "role"), file, "a rule");
            for (String id : List.of("uid", "gid")) {
                if (rule.has(id) && !(rule.get(id).isIntegralNumber() && rule.get(id).asLong() >= 0)) {
                    throw new IOException(file + ": '" + id + "' must be a whole number: " + rule);
                }
            }
            for (String text : List.of("listener", "subject", "san")) {
                if (rule.has(text) && !(rule.get(text).isTextual() && !rule.get(text).textValue().isEmpty())) {
                    throw new IOException(file + ": '" + text + "' must be a non-empty string: " + rule);
                }
            }
            if (rule.has("token-sha256") && !rule.get("token-sha256").asText().matches("[0-9a-f]{64}")) {
                throw new IOException(file + ": 'token-sha256' must be 64 lower-case hex digits "
                        + "(printf %s TOKEN | sha256sum): " + rule);
            }
        }
        Map<String, Role> roles = new HashMap<>(Map.of("admin", Role.ADMIN, "operator", Role.OPERATOR, "readonly", Role.READONLY));
        root.path("roles").properties().forEach(e -> roles.put(e.getKey(), new Role(e.getKey(),
                strings(e.getValue().path("allow")), strings(e.getValue().path("deny")), e.getValue().path("events").asBoolean(true))));
        List<Rule> rules = new ArrayList<>();
        for (JsonNode rule : root.path("rules")) {
            if (MATCH_KEYS.stream().noneMatch(rule::has)) {
                throw new IOException(file + ": a rule needs one of " + MATCH_KEYS + ": " + rule);
            }
            rules.add(new Rule(text(rule, "listener"), rule.has("uid") ? rule.get("uid").asLong() : null,
                    rule.has("gid") ? rule.get("gid").asLong() : null, text(rule, "subject"), text(rule, "san"),
                    text(rule, "token-sha256"), role(roles, rule.path("role").asText(), file)));
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

    private static String text(JsonNode rule, String member) {
        return rule.has(member) ? rule.get(member).asText() : null;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(node -> out.add(node.asText()));
        return out;
    }

    /**
     * @param guest the guest the client connects to
     * @param remote what a network client proved, null for a unix client
     */
    public Role roleFor(String guest, String listener, long uid, long gid, RemoteIdentity remote) {
        for (Rule rule : rules) {
            if (rule.matches(listener, uid, gid, remote)) {
                return rule.role();
            }
        }
        return fallback;
    }

    /** Whether a bearer token, by its hex SHA-256, is one a rule names: the token authenticates. */
    public boolean knowsToken(String tokenSha256) {
        return rules.stream().anyMatch(rule -> tokenSha256.equals(rule.tokenSha256()));
    }
}
