package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.qmpx.qmp.json.JsonText;
import dev.qmpx.qmp.json.QemuJson;

import java.util.List;
import java.util.Map;

/**
 * A string argument read as QEMU 7.2 may read it when it names a file, down to the names it would
 * give {@code qemu_open} (util/osdep.c), so that a rule can judge or rewrite each of them:
 * <ul>
 * <li>{@code json:} (block.c parse_json_protocol, only as a prefix), for a trusted client only (for
 * any other it is refused: its options can put any driver under the format a command names, and
 * QEMU merges them; blockdev-add's structured options say the same and are checked): the rest is one JSON value,
 * parsed as {@code qobject_from_json} does (escapes, single quotes), whose every string, at any
 * depth and under any key (nested objects and dotted keys like {@code "file.filename"} alike), is
 * read again: such a string may itself be a {@code json:} name;</li>
 * <li>{@code file:}, {@code host_device:}, {@code host_cdrom:} (file-posix's parse_filename strips
 * one): the rest is read again;</li>
 * <li>anything else is a name as it stands.</li>
 * </ul>
 * Readings the proxy cannot follow, where a name might still be spelled with escapes (a
 * {@code json:} QEMU's parser would reject, {@code json:} further inside a string, such as behind
 * another driver's prefix or on an HMP command line, JSON text with escapes), are uncertain: refused
 * for a client that is not trusted; for a trusted one, only when they contain a backslash (without
 * one, a name is spelled as it stands and the rule sees it).
 */
public final class QemuFileName {
    private static final String JSON = "json:";
    private static final List<String> FILE_PROTOCOLS = List.of("file:", "host_device:", "host_cdrom:");
    /**
     * Nesting (json: inside json:, and objects and arrays inside each) deeper than this is refused:
     * no real configuration nests so far, and the reading recurses on the guest's loop thread.
     */
    static final int MAX_DEPTH = 64;

    private QemuFileName() {
    }

    /** What to do with one name QEMU would open. */
    @FunctionalInterface
    public interface NameRule {
        /** @return the name to send instead, or null to keep it */
        String apply(String name) throws Refused;
    }

    /** The string may not go to QEMU; the message says why, for the client. */
    public static final class Refused extends Exception {
        public Refused(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * @param trusted whether uncertain readings without escapes may pass (admin clients)
     * @return the string with every name the rule rewrote, re-serialized inside json:, or null when
     *     nothing changed
     */
    public static String rewrite(String value, NameRule rule, boolean trusted) throws Refused {
        return read(value, rule, trusted, 0);
    }

    private static String read(String value, NameRule rule, boolean trusted, int depth) throws Refused {
        if (depth > MAX_DEPTH) {
            throw new Refused("qmpx: '" + abbreviate(value) + "' nests json: file names and their options deeper than "
                    + MAX_DEPTH);
        }
        if (value.startsWith(JSON)) {
            if (!trusted) {
                throw new Refused("qmpx: '" + abbreviate(value) + "': json: file names are for admin only: their options "
                        + "can open any driver under the format a command names; use blockdev-add with structured "
                        + "options, which says the same, and then the node's name");
            }
            JsonNode options = JsonText.parse(value.substring(JSON.length()));
            if (options == null) {
                uncertain(value, "is a json: file name that QEMU would not parse", trusted);
                return rule.apply(value);
            }
            if (options instanceof TextNode text) {
                String inner = read(text.textValue(), rule, trusted, depth + 1);
                return inner == null ? null : JSON + QemuJson.quote(inner);
            }
            return readAll(options, rule, trusted, depth + 1) ? JSON + QemuJson.write(options) : null;
        }
        for (String protocol : FILE_PROTOCOLS) {
            if (value.startsWith(protocol)) {
                String inner = read(value.substring(protocol.length()), rule, trusted, depth + 1);
                return inner == null ? null : protocol + inner;
            }
        }
        if (value.contains(JSON)) {
            uncertain(value, "holds a json: file name the proxy does not parse there", trusted);
        } else if (value.indexOf('\\') >= 0 && (value.indexOf('{') >= 0 || value.indexOf('[') >= 0)) {
            uncertain(value, "is JSON text with escapes that the proxy does not parse there", trusted);
        }
        return rule.apply(value);
    }

    /** Reads every string in a parsed JSON value; true if any changed (in place). */
    private static boolean readAll(JsonNode node, NameRule rule, boolean trusted, int depth) throws Refused {
        if (depth > MAX_DEPTH) {
            throw new Refused("qmpx: a json: file name nests its options deeper than " + MAX_DEPTH);
        }
        boolean changed = false;
        if (node instanceof ObjectNode object) {
            for (Map.Entry<String, JsonNode> member : object.properties()) {
                if (member.getValue() instanceof TextNode text) {
                    String mapped = read(text.textValue(), rule, trusted, depth);
                    if (mapped != null) {
                        member.setValue(JsonNodeFactory.instance.textNode(mapped));
                        changed = true;
                    }
                } else {
                    changed |= readAll(member.getValue(), rule, trusted, depth + 1);
                }
            }
        } else if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                if (array.get(i) instanceof TextNode text) {
                    String mapped = read(text.textValue(), rule, trusted, depth);
                    if (mapped != null) {
                        array.set(i, JsonNodeFactory.instance.textNode(mapped));
                        changed = true;
                    }
                } else {
                    changed |= readAll(array.get(i), rule, trusted, depth + 1);
                }
            }
        }
        return changed;
    }

    private static void uncertain(String value, String why, boolean trusted) throws Refused {
        if (!trusted || value.indexOf('\\') >= 0) {
            throw new Refused("qmpx: '" + abbreviate(value) + "' " + why + ", so it cannot tell which files it names; "
                    + "spell the file name plainly");
        }
    }

    static String abbreviate(String value) {
        return value.length() > 80 ? value.substring(0, 80) + "..." : value;
    }
}
