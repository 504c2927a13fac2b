package dev.qmpx.proxy.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Which role a client gets: the first rule matching its guest, listener and/or SO_PEERCRED
 * uid/gid (unix clients), or its TLS certificate's subject or typed alternative name or its bearer
 * token (network clients), else the default. Without a policy file every client is admin (as on a
 * direct connection); a policy file without {@code "default"} gives unmatched clients no role
 * ({@link Role#NONE}): they are refused. A policy file:
 * <pre>
 * {"roles": {"backup": {"allow": ["@readonly", "blockdev-backup", "job-*"], "events": true}},
 *  "rules": [{"listener": "/run/qmpx/vm1-ro.sock", "role": "readonly"},
 *            {"uid": 1001, "guests": ["vm1"], "role": "backup"}, {"gid": 27, "role": "operator"},
 *            {"subject": "CN=backup,O=example", "role": "backup"}, {"san": "dns:ops.example.com", "role": "operator"},
 *            {"token-sha256": "9f86d081884c7d65...", "role": "readonly"}],
 *  "default": "readonly"}
 * </pre>
 * A bearer token is valid only if a rule names its SHA-256. Immutable.
 */
public final class Policy {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Set<String> MATCH_KEYS = Set.of("guests", "listener", "uid", "gid", "subject", "san", "token-sha256");

    /** @param guests lower-case guest names, or null for every guest */
    private record Rule(Set<String> guests, String listener, Long uid, Long gid, String subject, SubjectAltName san,
                        String tokenSha256, Role role) {
        boolean matches(String guest, String clientListener, long clientUid, long clientGid, RemoteIdentity remote) {
            return (guests == null || guests.contains(guestKey(guest)))
                    && (listener == null || listener.equals(clientListener))
                    && (uid == null || uid == clientUid) && (gid == null || gid == clientGid)
                    && (subject == null || remote != null && subject.equals(remote.subject()))
                    && (san == null || remote != null && remote.sans().stream().anyMatch(san::matches))
                    && (tokenSha256 == null || remote != null && tokenSha256.equals(remote.tokenSha256()));
        }
    }

    private final List<Rule> rules;
    private final Role fallback;
    private final String summary;

    private Policy(List<Rule> rules, Role fallback, String summary) {
        this.rules = List.copyOf(rules);
        this.fallback = fallback;
        this.summary = summary;
    }

    public static Policy everyoneAdmin() {
        return new Policy(List.of(), Role.ADMIN, "no --policy: every client is admin, as on a direct connection to QEMU");
    }

    public static Policy load(Path file) throws IOException {
        JsonNode root = MAPPER.readTree(file.toFile());
        strict(root, Set.of("roles", "rules", "default"), file, "the policy");
        for (JsonNode role : root.path("roles")) {
            strict(role, Set.of("allow", "deny", "events"), file, "a role");
        }
        Map<String, Role> roles = new HashMap<>(Map.of("admin", Role.ADMIN, "operator", Role.OPERATOR,
                "readonly", Role.READONLY, "none", Role.NONE));
        for (var entry : root.path("roles").properties()) {
            try {
                roles.put(entry.getKey(), new Role(entry.getKey(), strings(entry.getValue().path("allow")),
                        strings(entry.getValue().path("deny")), entry.getValue().path("events").asBoolean(true)));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": role '" + entry.getKey() + "': " + e.getMessage());
            }
        }
        List<Rule> rules = new ArrayList<>();
        for (JsonNode rule : root.path("rules")) {
            rules.add(rule(rule, roles, file));
        }
        Role fallback = root.has("default") ? role(roles, root.path("default").asText(), file) : Role.NONE;
        String unmatched = root.has("default") ? "clients no rule matches get role '" + fallback.name() + "'"
                : "no \"default\": clients no rule matches get no role and are refused when they connect";
        return new Policy(rules, fallback, "policy " + file + ": " + rules.size() + " rule(s); " + unmatched);
    }

    private static Rule rule(JsonNode rule, Map<String, Role> roles, Path file) throws IOException {
        strict(rule, Set.of("guests", "listener", "uid", "gid", "subject", "san", "token-sha256", "role"), file, "a rule");
        if (MATCH_KEYS.stream().noneMatch(rule::has)) {
            throw new IOException(file + ": a rule needs one of " + MATCH_KEYS + ": " + rule);
        }
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
        Set<String> guests = null;
        if (rule.has("guests")) {
            JsonNode names = rule.get("guests");
            if (!names.isArray() || names.isEmpty() || !names.valueStream().allMatch(n -> n.isTextual() && !n.textValue().isEmpty())) {
                throw new IOException(file + ": 'guests' must be a non-empty array of guest names: " + rule);
            }
            guests = Set.copyOf(names.valueStream().map(n -> guestKey(n.textValue())).toList());
        }
        SubjectAltName san;
        try {
            san = rule.has("san") ? SubjectAltName.parse(rule.get("san").textValue()) : null;
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": 'san' " + e.getMessage() + ": " + rule);
        }
        return new Rule(guests, text(rule, "listener"), rule.has("uid") ? rule.get("uid").asLong() : null,
                rule.has("gid") ? rule.get("gid").asLong() : null, text(rule, "subject"), san,
                text(rule, "token-sha256"), role(roles, rule.path("role").asText(), file));
    }

    /** Guest names compare as the gateway compares SNI names to them: case-insensitively, as DNS does. */
    private static String guestKey(String guest) {
        return guest.toLowerCase(Locale.ROOT);
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
            throw new IOException(file + ": no role named '" + name + "' (built in: admin, operator, readonly, none)");
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
     * The role of a client of a guest; never null: a client no rule matches, under a policy
     * without a default, gets {@link Role#NONE}.
     *
     * @param guest the guest's name (as in --guest or --config)
     * @param remote what a network client proved, null for a unix client
     */
    public Role roleFor(String guest, String listener, long uid, long gid, RemoteIdentity remote) {
        for (Rule rule : rules) {
            if (rule.matches(guest, listener, uid, gid, remote)) {
                return rule.role();
            }
        }
        return fallback;
    }

    /** Whether a bearer token, by its hex SHA-256, is one a rule names: the token authenticates. */
    public boolean knowsToken(String tokenSha256) {
        return rules.stream().anyMatch(rule -> tokenSha256.equals(rule.tokenSha256()));
    }

    /** One line for the start-up log: where roles come from, and what an unmatched client gets. */
    public String summary() {
        return summary;
    }
}
