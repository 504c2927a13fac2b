package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.qmpx.proxy.downstream.ReplyMapper;
import dev.qmpx.proxy.fds.ClientFds;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.json.QemuJson;
import dev.qmpx.qmp.message.QmpWire;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;

/**
 * Block queries show the client the paths it named: /dev/fdset/N of a brokered set becomes the
 * file's real path, one of the client's own sets its own id; other clients' sets stay as QEMU
 * named them. Loop thread only.
 */
public final class HostPaths implements ReplyMapper {
    /** The queries whose answers name block nodes' files. */
    public static final Set<String> QUERIES = Set.of("query-block", "query-named-block-nodes", "x-debug-query-block-graph");
    private static final byte[] MARKER = "/dev/fdset/".getBytes(StandardCharsets.US_ASCII);

    private final BrokeredFdsets brokered;
    private final ClientFds fds;

    public HostPaths(BrokeredFdsets brokered, ClientFds fds) {
        this.brokered = brokered;
        this.fds = fds;
    }

    @Override
    public byte[] line(JsonMessage reply, JsonMessage.Member proxyId, byte[] clientRawId) {
        if (reply.member("error") != null || !mentionsFdset(reply.text())) {
            return QmpWire.replyLine(reply, proxyId, clientRawId);
        }
        JsonNode value = reply.asTree().path("return").deepCopy();
        return QmpWire.returnLine(clientRawId, QemuJson.write(map(value)));
    }

    private JsonNode map(JsonNode node) {
        if (node instanceof ObjectNode object) {
            for (Map.Entry<String, JsonNode> member : object.properties()) {
                member.setValue(map(member.getValue()));
            }
        } else if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                array.set(i, map(array.get(i)));
            }
        } else if (node instanceof TextNode text && text.textValue().contains("/dev/fdset/")) {
            return TextNode.valueOf(mapText(text.textValue()));
        }
        return node;
    }

    private String mapText(String text) {
        // Inside a json: pseudo-filename a path is a JSON string of its own.
        boolean inJson = text.startsWith("json:");
        Matcher m = BrokeredFdsets.FDSET_PATH.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            long id = Long.parseLong(m.group(1));
            String path = brokered.path(id);
            Long own = fds.clientFdset(id);
            String replacement = path != null ? (inJson ? jsonEscaped(path) : path)
                    : own != null ? "/dev/fdset/" + own : m.group();
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        return m.appendTail(out).toString();
    }

    private static String jsonEscaped(String path) {
        String quoted = QemuJson.write(TextNode.valueOf(path));
        return quoted.substring(1, quoted.length() - 1);
    }

    private static boolean mentionsFdset(byte[] text) {
        outer:
        for (int i = 0; i + MARKER.length <= text.length; i++) {
            for (int j = 0; j < MARKER.length; j++) {
                if (text[i + j] != MARKER[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
