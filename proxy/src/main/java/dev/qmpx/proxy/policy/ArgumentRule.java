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

    private static String quoted(String text) {
        return "'" + (text.length() > 60 ? text.substring(0, 60) + "..." : text) + "'";
    }
}
