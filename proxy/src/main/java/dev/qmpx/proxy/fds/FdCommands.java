package dev.qmpx.proxy.fds;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.qmpx.proxy.downstream.ReplyMapper;
import dev.qmpx.proxy.filenames.FdsetNames;
import dev.qmpx.proxy.filenames.ImageNames;
import dev.qmpx.proxy.filenames.QemuFileName;
import dev.qmpx.qmp.message.ClientCommand;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.UpstreamEncoding;

import java.io.FileDescriptor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the proxy does to a client's command so that fds work as on a monitor of the client's own:
 * getfd/add-fd take the client's waiting fd and carry it upstream in the same sendmsg; getfd names
 * and fdset ids are rewritten into the client's private namespace, in those commands and wherever
 * QEMU looks a name up ({@code monitor_get_fd}/{@code monitor_fd_param}: fd: URIs, netdev and
 * device fd properties, SocketAddress of type fd, /dev/fdset/N paths); replies are mapped back.
 *
 * <p>Arguments that QEMU's visitor would reject are answered here with QEMU's texts, before any
 * fd goes upstream: a rejected command leaves its fd waiting in QEMU, where another client's
 * getfd could take it.
 */
public final class FdCommands {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Pattern FD_URI = Pattern.compile("fd:(.*)", Pattern.DOTALL);
    /** Arguments holding an "fd:NAME" URI, by command. */
    private static final Map<String, String> FD_URI_ARGUMENT = Map.of(
            "migrate", "uri", "migrate-incoming", "uri", "dump-guest-memory", "protocol");
    /** Arguments holding an fd name (or a raw fd number) or a colon-separated list of them. */
    private static final Map<String, Set<String>> FD_NAME_ARGUMENTS = Map.of(
            "netdev_add", Set.of("fd", "vhostfd", "fds", "vhostfds"),
            "device_add", Set.of("vhostfd"),
            "add_client", Set.of("fdname"));

    private FdCommands() {
    }

    /** The command handled locally, or forwarded in the client's namespace. */
    public sealed interface Prepared permits Answer, Forward {
    }

    /** Answer the client with this error; nothing goes upstream. */
    public record Answer(QmpError error) implements Prepared {
    }

    /** Send this upstream instead, with these fds, and map the reply back. */
    public record Forward(byte[] prefix, FileDescriptor[] fds, ReplyMapper mapper) implements Prepared {
    }

    /**
     * @param trusted whether the client may use file names the proxy cannot read for sure, when they
     *     have no escapes, and names QEMU takes from inside images (admin clients)
     * @return how to handle the command, or null when it involves no fds at all
     */
    public static Prepared prepare(ClientCommand command, ClientFds fds, FdsetIds ids, boolean trusted) {
        return switch (command.name()) {
            case "getfd" -> getfd(command, fds);
            case "closefd" -> closefd(command, fds);
            case "add-fd" -> addFd(command, fds, ids);
            case "remove-fd" -> removeFd(command, fds);
            case "query-fdsets" -> queryFdsets(fds);
            default -> references(command, fds, trusted);
        };
    }

    private static Prepared getfd(ClientCommand command, ClientFds fds) {
        ObjectNode args = command.arguments();
        QmpError invalid = check(args, Set.of("fdname"), Set.of("fdname"));
        if (invalid != null) {
            return new Answer(invalid);
        }
        FileDescriptor fd = fds.pending().take();
        if (fd == null) {
            return new Answer(QmpError.generic("No file descriptor supplied via SCM_RIGHTS"));
        }
        String name = args.get("fdname").textValue();
        if (!name.isEmpty() && Character.isDigit(name.charAt(0))) {
            PendingFds.close(fd);
            return new Answer(QmpError.generic("Parameter 'fdname' expects a name not starting with a digit"));
        }
        fds.nameCreated(name);
        ObjectNode upstream = NODES.objectNode().put("fdname", fds.upstreamName(name));
        return new Forward(UpstreamEncoding.prefix("getfd", upstream), new FileDescriptor[] {fd},
                RewrittenReply.errorTextsOnly(fds));
    }

    private static Prepared closefd(ClientCommand command, ClientFds fds) {
        ObjectNode args = command.arguments();
        QmpError invalid = check(args, Set.of("fdname"), Set.of("fdname"));
        if (invalid != null) {
            return new Answer(invalid);
        }
        String name = args.get("fdname").textValue();
        ObjectNode upstream = NODES.objectNode().put("fdname", fds.upstreamName(name));
        return new Forward(UpstreamEncoding.prefix("closefd", upstream), new FileDescriptor[0],
                new RewrittenReply(fds, null, () -> fds.nameClosed(name), () -> { }));
    }

    private static Prepared addFd(ClientCommand command, ClientFds fds, FdsetIds ids) {
        ObjectNode args = command.arguments();
        QmpError invalid = check(args, Set.of("fdset-id", "opaque"), Set.of());
        if (invalid == null) {
            invalid = type(args, "fdset-id", JsonNode::isIntegralNumber, "integer");
        }
        if (invalid == null) {
            invalid = type(args, "opaque", JsonNode::isTextual, "string");
        }
        if (invalid != null) {
            return new Answer(invalid);
        }
        FileDescriptor fd = fds.pending().take();
        if (fd == null) {
            return new Answer(QmpError.generic("No file descriptor supplied via SCM_RIGHTS"));
        }
        long clientId = args.has("fdset-id") ? args.get("fdset-id").asLong() : fds.lowestFreeFdset();
        if (clientId < 0) {
            PendingFds.close(fd);
            return new Answer(QmpError.generic("Parameter 'fdset-id' expects a non-negative value"));
        }
        long upstreamId = fds.mapFdset(clientId, ids);
        String opaque = args.has("opaque") ? args.get("opaque").textValue() : null;
        ObjectNode upstream = NODES.objectNode()
                .put("fdset-id", upstreamId)
                .put("opaque", fds.opaqueTag(clientId, opaque));
        return new Forward(UpstreamEncoding.prefix("add-fd", upstream), new FileDescriptor[] {fd},
                new RewrittenReply(fds, value -> ((ObjectNode) value.deepCopy()).put("fdset-id", clientId),
                        () -> { }, () -> { }));
    }

    private static Prepared removeFd(ClientCommand command, ClientFds fds) {
        ObjectNode args = command.arguments();
        QmpError invalid = check(args, Set.of("fdset-id", "fd"), Set.of("fdset-id"));
        if (invalid == null) {
            invalid = type(args, "fdset-id", JsonNode::isIntegralNumber, "integer");
        }
        if (invalid == null) {
            invalid = type(args, "fd", JsonNode::isIntegralNumber, "integer");
        }
        if (invalid != null) {
            return new Answer(invalid);
        }
        long clientId = args.get("fdset-id").asLong();
        Long upstreamId = fds.upstreamFdset(clientId);
        if (upstreamId == null) {
            return new Answer(QmpError.generic("File descriptor named '" + fdsetName(clientId, args.get("fd"))
                    + "' not found"));
        }
        ObjectNode upstream = NODES.objectNode().put("fdset-id", upstreamId);
        if (args.has("fd")) {
            upstream.set("fd", args.get("fd"));
        }
        boolean wholeSet = !args.has("fd");
        return new Forward(UpstreamEncoding.prefix("remove-fd", upstream), new FileDescriptor[0],
                new RewrittenReply(fds, null, () -> {
                    if (wholeSet) {
                        fds.unmapFdset(clientId);
                    }
                }, () -> { }));
    }

    private static String fdsetName(long fdsetId, JsonNode fd) {
        return "fdset-id:" + fdsetId + (fd == null ? "" : ", fd:" + fd.asLong());
    }

    /** query-fdsets shows the client its own sets, with its own ids and opaque strings. */
    private static Prepared queryFdsets(ClientFds fds) {
        return new Forward(UpstreamEncoding.prefix("query-fdsets", null), new FileDescriptor[0],
                new RewrittenReply(fds, sets -> ownSets(sets, fds), () -> { }, () -> { }));
    }

    private static JsonNode ownSets(JsonNode sets, ClientFds fds) {
        List<ObjectNode> own = new ArrayList<>();
        for (JsonNode set : sets) {
            Long clientId = fds.clientFdset(set.path("fdset-id").asLong());
            if (clientId == null) {
                continue;
            }
            ArrayNode fdList = NODES.arrayNode();
            for (JsonNode fd : set.path("fds")) {
                ObjectNode entry = NODES.objectNode().put("fd", fd.path("fd").asLong());
                OpaqueTag tag = OpaqueTag.parse(fd.path("opaque").textValue());
                if (tag != null && tag.clientOpaque() != null) {
                    entry.put("opaque", tag.clientOpaque());
                }
                fdList.add(entry);
            }
            own.add(NODES.objectNode().<ObjectNode>set("fds", fdList).put("fdset-id", clientId));
        }
        // QEMU lists sets by descending id.
        own.sort(Comparator.comparingLong((ObjectNode set) -> set.get("fdset-id").asLong()).reversed());
        ArrayNode out = NODES.arrayNode();
        own.forEach(out::add);
        return out;
    }

    /** Rewrites fd names and fdset paths in any other command; null when it has none. */
    private static Prepared references(ClientCommand command, ClientFds fds, boolean trusted) {
        String imageNames = trusted ? null : ImageNames.problem(command.name(), command.arguments());
        if (imageNames != null) {
            return new Answer(QmpError.generic(imageNames));
        }
        ObjectNode args = command.arguments().deepCopy();
        boolean changed = false;
        String uriArgument = FD_URI_ARGUMENT.get(command.name());
        if (uriArgument != null && args.path(uriArgument).isTextual()) {
            Matcher m = FD_URI.matcher(args.get(uriArgument).textValue());
            if (m.matches() && startsWithDigit(m.group(1))) {
                return new Answer(rawFdRefusal(uriArgument));
            }
            if (m.matches()) {
                args.put(uriArgument, "fd:" + fds.upstreamName(m.group(1)));
                changed = true;
            }
        }
        for (String name : FD_NAME_ARGUMENTS.getOrDefault(command.name(), Set.of())) {
            if (args.path(name).isTextual()) {
                if (hasRawFdNumber(args.get(name).textValue())) {
                    return new Answer(rawFdRefusal(name));
                }
                String rewritten = nameList(args.get(name).textValue(), fds);
                if (!rewritten.equals(args.get(name).textValue())) {
                    args.put(name, rewritten);
                    changed = true;
                }
            }
        }
        Refusal refusal = new Refusal();
        changed |= walk(args, fds, new FdsetNames(fds::upstreamFdset, trusted), refusal);
        if (refusal.reason != null) {
            return new Answer(QmpError.generic(refusal.reason));
        }
        if (!changed) {
            return null;
        }
        return new Forward(UpstreamEncoding.prefix(command.name(), args), new FileDescriptor[0],
                RewrittenReply.errorTextsOnly(fds));
    }

    /** Why a command may not go upstream, found while walking its arguments. */
    private static final class Refusal {
        String reason;

        void refuse(String why) {
            if (reason == null) {
                reason = why;
            }
        }
    }

    /** Names in a colon-separated list (tap's fds=a:b:c), each rewritten into the client's namespace. */
    private static String nameList(String value, ClientFds fds) {
        StringBuilder out = new StringBuilder();
        for (String name : value.split(":", -1)) {
            if (out.length() > 0) {
                out.append(':');
            }
            out.append(fds.upstreamName(name));
        }
        return out.toString();
    }

    private static boolean hasRawFdNumber(String value) {
        for (String name : value.split(":", -1)) {
            if (startsWithDigit(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * QEMU reads a digit-led name as a number in its own fd table (monitor_fd_param), which would
     * reach other clients' fds and QEMU's own: refused; clients pass fds and use their names.
     */
    private static QmpError rawFdRefusal(String argument) {
        return QmpError.generic("qmpx: '" + argument + "' names a raw QEMU fd number, which would reach other "
                + "clients' fds; pass the fd with getfd and use its name");
    }

    /**
     * Rewrites SocketAddress values of type fd ({"type": "fd", "str": NAME} and the legacy
     * {"type": "fd", "data": {"str": NAME}}) and the client's /dev/fdset/N names in any string of the
     * arguments, as QEMU would read it as a file name (json: included).
     */
    private static boolean walk(JsonNode node, ClientFds fds, FdsetNames fdsets, Refusal refusal) {
        boolean changed = false;
        if (node instanceof ObjectNode object) {
            if ("fd".equals(object.path("type").textValue())) {
                ObjectNode holder = object.path("str").isTextual() ? object
                        : object.path("data") instanceof ObjectNode data && data.path("str").isTextual() ? data : null;
                if (holder != null && startsWithDigit(holder.get("str").textValue())) {
                    refusal.refuse(rawFdRefusal("str").desc());
                } else if (holder != null) {
                    holder.put("str", fds.upstreamName(holder.get("str").textValue()));
                    changed = true;
                }
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = object.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> member = it.next();
                if (member.getValue() instanceof TextNode text) {
                    String mapped = fdsetPath(text.textValue(), fdsets, refusal);
                    if (mapped != null) {
                        member.setValue(NODES.textNode(mapped));
                        changed = true;
                    }
                } else {
                    changed |= walk(member.getValue(), fds, fdsets, refusal);
                }
            }
        } else if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                if (array.get(i) instanceof TextNode text) {
                    String mapped = fdsetPath(text.textValue(), fdsets, refusal);
                    if (mapped != null) {
                        array.set(i, NODES.textNode(mapped));
                        changed = true;
                    }
                } else {
                    changed |= walk(array.get(i), fds, fdsets, refusal);
                }
            }
        }
        return changed;
    }

    /**
     * The string as it goes upstream with the client's fdsets mapped, however QEMU would read it as
     * a file name; null to leave it alone. A string that could reach another client's set is refused.
     */
    private static String fdsetPath(String value, FdsetNames fdsets, Refusal refusal) {
        try {
            return fdsets.rewrite(value);
        } catch (QemuFileName.Refused e) {
            refusal.refuse(e.getMessage());
            return null;
        }
    }

    private static boolean startsWithDigit(String name) {
        return !name.isEmpty() && Character.isDigit(name.charAt(0));
    }

    /** QEMU's visitor checks: unknown members, then missing ones, then the fdname type. */
    private static QmpError check(ObjectNode args, Set<String> known, Set<String> required) {
        for (Iterator<String> names = args.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                return QmpError.generic("Parameter '" + name + "' is unexpected");
            }
        }
        for (String name : required) {
            if (!args.has(name)) {
                return QmpError.generic("Parameter '" + name + "' is missing");
            }
        }
        if (args.has("fdname") && !args.get("fdname").isTextual()) {
            return QmpError.generic("Invalid parameter type for 'fdname', expected: string");
        }
        return null;
    }

    private static QmpError type(ObjectNode args, String name, java.util.function.Predicate<JsonNode> ok, String expected) {
        if (args.has(name) && !ok.test(args.get(name))) {
            return QmpError.generic("Invalid parameter type for '" + name + "', expected: " + expected);
        }
        return null;
    }
}
