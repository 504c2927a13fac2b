package dev.qmpx.proxy.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * A condition under which a role may run a command it lists: an allowlist over the arguments. A
 * rule sees the arguments as the proxy parsed them, and the command then goes to QEMU re-encoded
 * from exactly those, so QEMU cannot read anything the rule did not. Immutable.
 */
public sealed interface ArgumentRule {
    /** Any arguments: what a policy grants by naming a command (or pattern) itself. */
    ArgumentRule ANY = new Any();

    /** What the proxy does with one command under this rule. */
    Verdict check(ObjectNode arguments);

    /** The outcome of a check. */
    sealed interface Verdict {
    }

    /** Send the command. */
    record Allowed() implements Verdict {
    }

    /** Refuse it, saying why (completes "the role R does not allow C ..."). */
    record Refused(String why) implements Verdict {
    }

    /**
     * Ask QEMU first, with nothing sent in between: the probe command's return decides. A probe
     * that fails (say, the path names no object) is the answer, as the command itself would fail.
     *
     * @param refusal the "why" of a refusal from the probe's return value, or null to send the command
     */
    record Probe(String command, ObjectNode arguments, java.util.function.Function<JsonNode, String> refusal)
            implements Verdict {
    }

    record Any() implements ArgumentRule {
        @Override
        public Verdict check(ObjectNode arguments) {
            return new Allowed();
        }
    }

    /**
     * A URI argument whose scheme is one of a list (migrate: tcp, unix, ..., never exec:, which runs
     * a shell as QEMU). A missing or non-string member is left to QEMU, which refuses it itself.
     */
    record UriSchemes(String member, List<String> schemes) implements ArgumentRule {
        public UriSchemes {
            schemes = List.copyOf(schemes);
        }

        @Override
        public Verdict check(ObjectNode arguments) {
            JsonNode uri = arguments.get(member);
            if (uri == null || !uri.isTextual()) {
                return new Allowed();
            }
            for (String scheme : schemes) {
                if (uri.textValue().startsWith(scheme + ":")) {
                    return new Allowed();
                }
            }
            return new Refused("with '" + member + "' " + quoted(uri.textValue()) + " (allowed schemes: "
                    + String.join(": ", schemes) + ":)");
        }
    }

    /**
     * A QOM object the command names by path must not be of a type starting with the given prefix
     * (qom-get never on a {@code secret*} object: its data is a passphrase). The object's type is
     * asked of QEMU with the very same path string ({@code qom-get path=P property=type}), so
     * absolute, partial, ambiguous, link-crossing and any other spelling resolves exactly as for the
     * command itself; the proxy sends nothing between the two.
     */
    record ObjectTypeNot(String pathMember, String typePrefix) implements ArgumentRule {
        @Override
        public Verdict check(ObjectNode arguments) {
            JsonNode path = arguments.get(pathMember);
            if (path == null || !path.isTextual()) {
                return new Allowed(); // QEMU refuses it before it resolves anything
            }
            ObjectNode probe = JsonNodeFactory.instance.objectNode().put("path", path.textValue()).put("property", "type");
            return new Probe("qom-get", probe, type -> !type.isTextual() ? "on an object QEMU gave no type name for"
                    : type.textValue().startsWith(typePrefix) ? "on an object of type '" + type.textValue() + "'" : null);
        }
    }

    /** Every one of several rules: the first verdict other than Allowed decides. */
    record All(List<ArgumentRule> rules) implements ArgumentRule {
        public All {
            rules = List.copyOf(rules);
        }

        @Override
        public Verdict check(ObjectNode arguments) {
            for (ArgumentRule rule : rules) {
                Verdict verdict = rule.check(arguments);
                if (!(verdict instanceof Allowed)) {
                    return verdict;
                }
            }
            return new Allowed();
        }
    }

    /**
     * A string member that must be one of a list of values when present (block-export-add: type
     * nbd only; vhost-user-blk listens on a unix path QEMU unlinks first, fuse mounts over a file).
     * A missing or non-string member is left to QEMU, which refuses it itself.
     */
    record MemberIn(String member, List<String> values) implements ArgumentRule {
        public MemberIn {
            values = List.copyOf(values);
        }

        @Override
        public Verdict check(ObjectNode arguments) {
            JsonNode value = arguments.get(member);
            if (value == null || !value.isTextual() || values.contains(value.textValue())) {
                return new Allowed();
            }
            return new Refused("with '" + member + "' " + quoted(value.textValue()) + " (allowed: "
                    + String.join(", ", values) + ")");
        }
    }

    /**
     * An address QEMU listens on (a SocketAddressLegacy, {"type": ..., "data": {...}}) of a type
     * from a list: inet and vsock, never unix, whose path QEMU unlinks before it binds (so naming
     * any file QEMU may unlink deletes it), nor fd, a descriptor of another client's. Present but
     * not an object with a string type: refused, so nothing the rule did not read reaches QEMU.
     */
    record ListeningTypes(String member, List<String> types) implements ArgumentRule {
        public ListeningTypes {
            types = List.copyOf(types);
        }

        @Override
        public Verdict check(ObjectNode arguments) {
            JsonNode address = arguments.get(member);
            if (address == null) {
                return new Allowed(); // QEMU refuses the command without it
            }
            JsonNode type = address.get("type");
            if (type != null && type.isTextual() && types.contains(type.textValue())) {
                return new Allowed();
            }
            return new Refused("with '" + member + "' of type " + (type != null && type.isTextual()
                    ? quoted(type.textValue()) : "(none)") + " (allowed types: " + String.join(", ", types) + ")");
        }
    }

    /**
     * No member, at any depth, whose name ends in "secret" (key-secret, password-secret,
     * proxy-password-secret, ...): such a member names a secret object, which only an admin can
     * create, and QEMU would use its data for the client, for instance sending a password to a
     * server the client runs.
     */
    record NoSecretMembers() implements ArgumentRule {
        @Override
        public Verdict check(ObjectNode arguments) {
            String found = secretMember(arguments, "");
            return found == null ? new Allowed() : new Refused("with '" + found
                    + "' (a secret object: only a role granted the command by name may name one)");
        }

        private static String secretMember(JsonNode node, String path) {
            if (node.isArray()) {
                for (int i = 0; i < node.size(); i++) {
                    String found = secretMember(node.get(i), path + "[" + i + "]");
                    if (found != null) {
                        return found;
                    }
                }
            }
            for (var fields = node.fields(); node.isObject() && fields.hasNext(); ) {
                var field = fields.next();
                String name = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
                if (field.getKey().toLowerCase(java.util.Locale.ROOT).endsWith("secret")) {
                    return name;
                }
                String found = secretMember(field.getValue(), name);
                if (found != null) {
                    return found;
                }
            }
            return null;
        }
    }

    private static String quoted(String text) {
        return "'" + (text.length() > 60 ? text.substring(0, 60) + "..." : text) + "'";
    }
}
