package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qmpx.proxy.fds.FdsetIds;
import dev.qmpx.proxy.fds.OpaqueTag;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The guest's fdsets made from broker fds, and the real path behind each. They belong to the
 * guest, not to the client whose command made them: a block node keeps using its set after that
 * client leaves, and QEMU dups from the set again when it reopens the node, so a set stays while
 * any node names it and goes (remove-fd) once none does. The tag in each set's opaque string
 * (owner {@value OpaqueTag#GUEST}, the real path) lets a restarted proxy learn them again from
 * query-fdsets.
 *
 * <p>A set is pending from its allocation until the command meant to use it has been answered (or
 * its client has left, when it will never be sent): the collector leaves pending sets alone. Loop
 * thread only.
 */
public final class BrokeredFdsets {
    /** An fdset path inside any text (a filename, a json: name, an error text). */
    static final Pattern FDSET_PATH = Pattern.compile("/dev/fdset/(\\d{1,18})(?!\\d)");

    private final Map<Long, String> paths = new HashMap<>();
    /** Pending sets and who is going to use them (a client session, an orchestration). */
    private final Map<Long, Object> pending = new HashMap<>();

    /** A fresh upstream set for a file the broker opened; pending until {@link #settled}. */
    public long allocate(FdsetIds ids, String path, Object user) {
        long id = ids.allocate();
        paths.put(id, path);
        pending.put(id, user);
        return id;
    }

    /** The opaque string of a brokered fd. */
    public static String tag(String path) {
        return OpaqueTag.format(OpaqueTag.GUEST, -1, path);
    }

    /** The commands using these sets have been answered. */
    public void settled(Collection<Long> ids) {
        ids.forEach(pending::remove);
    }

    /** The user will never send what it allocated sets for (a client left). */
    public void userGone(Object user) {
        pending.values().removeIf(u -> u == user);
    }

    public void removed(long id) {
        paths.remove(id);
        pending.remove(id);
    }

    public boolean isEmpty() {
        return paths.isEmpty();
    }

    /** The real path behind an upstream set, or null when it is not a brokered set. */
    public String path(long id) {
        return paths.get(id);
    }

    /** Learns the brokered sets QEMU already has (made by an earlier proxy) from query-fdsets. */
    public void learn(JsonNode fdsets) {
        for (JsonNode set : fdsets) {
            String path = taggedPath(set);
            if (path != null) {
                paths.put(set.path("fdset-id").asLong(), path);
            }
        }
    }

    /** The real path in the guest tag of set id in query-fdsets, or null when it has none. */
    public static String taggedPath(JsonNode fdsets, long id) {
        for (JsonNode set : fdsets) {
            if (set.path("fdset-id").asLong() == id) {
                return taggedPath(set);
            }
        }
        return null;
    }

    private static String taggedPath(JsonNode set) {
        for (JsonNode fd : set.path("fds")) {
            OpaqueTag tag = OpaqueTag.parse(fd.path("opaque").textValue());
            if (tag != null && tag.guestOwned() && tag.clientOpaque() != null) {
                return tag.clientOpaque();
            }
        }
        return null;
    }

    /**
     * The brokered sets no node uses: listed in query-fdsets, not pending, and not named anywhere in
     * query-named-block-nodes (a file node's filename, a json: name, a backing name). Ask for
     * query-fdsets before query-named-block-nodes: a set added in between is pending.
     */
    public List<Long> unused(JsonNode fdsets, JsonNode namedNodes) {
        java.util.Set<Long> named = named(namedNodes);
        List<Long> unused = new ArrayList<>();
        for (JsonNode set : fdsets) {
            long id = set.path("fdset-id").asLong();
            if (paths.containsKey(id) && !pending.containsKey(id) && !named.contains(id)) {
                unused.add(id);
            }
        }
        return unused;
    }

    /** Every fdset id named anywhere in a reply (query-named-block-nodes: filenames, json: and backing names). */
    public static java.util.Set<Long> named(JsonNode reply) {
        java.util.Set<Long> named = new java.util.HashSet<>();
        collectNamed(reply, named);
        return named;
    }

    private static void collectNamed(JsonNode node, java.util.Set<Long> named) {
        if (node.isTextual()) {
            Matcher m = FDSET_PATH.matcher(node.textValue());
            while (m.find()) {
                named.add(Long.parseLong(m.group(1)));
            }
        }
        node.forEach(child -> collectNamed(child, named));
    }
}
