package dev.qmpx.proxy.paths;

import dev.qmpx.proxy.downstream.ReplyMapper;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpWire;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The reply to a command whose file paths became /dev/fdset/N: error texts show the client's own
 * paths again; when the command failed its fdsets are removed, when it succeeded they are settled
 * (the guest's, for as long as a node uses them). Loop thread only.
 */
public final class BrokeredPaths implements ReplyMapper {
    private final Map<Long, String> paths = new LinkedHashMap<>();
    private final List<String> created = new java.util.ArrayList<>();
    private final BrokeredFdsets registry;
    private final Consumer<Collection<Long>> remove;

    private final Consumer<List<String>> unlink;

    /**
     * @param remove removes the fdsets when QEMU refused the command
     * @param unlink deletes the files the broker created for it when QEMU refused the command
     */
    public BrokeredPaths(BrokeredFdsets registry, Consumer<Collection<Long>> remove, Consumer<List<String>> unlink) {
        this.registry = registry;
        this.remove = remove;
        this.unlink = unlink;
    }

    void add(long upstreamFdset, FileReference reference) {
        paths.put(upstreamFdset, reference.path());
        if (reference.access() == FileReference.Access.CREATE) {
            created.add(reference.path());
        }
    }

    @Override
    public byte[] line(JsonMessage reply, JsonMessage.Member proxyId, byte[] clientRawId) {
        if (reply.member("error") == null) {
            registry.settled(paths.keySet());
            return QmpWire.replyLine(reply, proxyId, clientRawId);
        }
        remove.accept(List.copyOf(paths.keySet()));
        if (!created.isEmpty()) {
            unlink.accept(List.copyOf(created));
        }
        return QmpWire.errorLine(clientRawId, reply, desc -> {
            for (Map.Entry<Long, String> e : paths.entrySet()) {
                desc = desc.replaceAll("/dev/fdset/" + e.getKey() + "(?!\\d)", java.util.regex.Matcher.quoteReplacement(e.getValue()));
            }
            return desc;
        });
    }
}
