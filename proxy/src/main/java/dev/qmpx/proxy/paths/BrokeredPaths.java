package dev.qmpx.proxy.paths;

import dev.qmpx.proxy.downstream.ReplyMapper;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpWire;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The reply to a command whose file paths became /dev/fdset/N: error texts show the client's own
 * paths again, and when the command failed its fdsets are removed. Loop thread only.
 */
public final class BrokeredPaths implements ReplyMapper {
    private final Map<Long, String> paths = new LinkedHashMap<>();
    private final Consumer<Map<Long, String>> removeOnFailure;

    /** @param removeOnFailure removes the fdsets when QEMU refused the command */
    public BrokeredPaths(Consumer<Map<Long, String>> removeOnFailure) {
        this.removeOnFailure = removeOnFailure;
    }

    void add(long upstreamFdset, String path) {
        paths.put(upstreamFdset, path);
    }

    @Override
    public byte[] line(JsonMessage reply, JsonMessage.Member proxyId, byte[] clientRawId) {
        if (reply.member("error") == null) {
            return QmpWire.replyLine(reply, proxyId, clientRawId);
        }
        removeOnFailure.accept(paths);
        return QmpWire.errorLine(clientRawId, reply, desc -> {
            for (Map.Entry<Long, String> e : paths.entrySet()) {
                desc = desc.replace("/dev/fdset/" + e.getKey(), e.getValue());
            }
            return desc;
        });
    }
}
