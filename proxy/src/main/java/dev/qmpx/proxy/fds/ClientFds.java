package dev.qmpx.proxy.fds;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One client's view of QEMU's descriptors: its waiting fds, its getfd names, its fdset ids.
 * Names get a per-client prefix upstream and fdset ids are mapped, so two clients can both use
 * "migrate" or fdset 1 (a monitor of their own, as far as they can tell). Loop thread only.
 */
public final class ClientFds {
    /** How QEMU's texts name an fdset: in a path, or in remove-fd's "fdset-id:N". */
    private static final Pattern FDSET_REFERENCE = Pattern.compile("(/dev/fdset/|fdset-id:)(\\d{1,18})(?!\\d)");

    private final PendingFds pending = new PendingFds();
    private final String owner;
    private final String namePrefix;
    /** Names this client gave to getfd (including ones whose getfd is still in flight). */
    private final Set<String> names = new LinkedHashSet<>();
    /** This client's fdset ids and the upstream ids behind them. */
    private final TreeMap<Long, Long> fdsets = new TreeMap<>();

    private final GetfdRecord record;

    /**
     * @param serial the session's number in this proxy process
     * @param record where the guest's getfd names are kept for a later proxy
     */
    public ClientFds(long serial, GetfdRecord record) {
        this.owner = "s" + serial + "@" + ProcessHandle.current().pid();
        // The pid too: a later proxy's sessions must never meet names an earlier one left in QEMU.
        this.namePrefix = "qmpx-" + ProcessHandle.current().pid() + "-" + serial + "-";
        this.record = record;
    }

    public PendingFds pending() {
        return pending;
    }

    public String upstreamName(String name) {
        return namePrefix + name;
    }

    /** QEMU's texts name the upstream name; the client should read its own. */
    String clientText(String desc) {
        String text = desc.replace(namePrefix, "");
        Matcher m = FDSET_REFERENCE.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            Long client = clientFdset(Long.parseLong(m.group(2)));
            m.appendReplacement(out, client == null ? m.group() : m.group(1) + client);
        }
        return m.appendTail(out).toString();
    }

    void nameCreated(String name) {
        names.add(name);
        record.created(upstreamName(name));
    }

    void nameClosed(String name) {
        names.remove(name);
        record.closed(upstreamName(name));
    }

    public Long upstreamFdset(long clientId) {
        return fdsets.get(clientId);
    }

    public Long clientFdset(long upstreamId) {
        for (Map.Entry<Long, Long> e : fdsets.entrySet()) {
            if (e.getValue() == upstreamId) {
                return e.getKey();
            }
        }
        return null;
    }

    long mapFdset(long clientId, FdsetIds ids) {
        return fdsets.computeIfAbsent(clientId, id -> ids.allocate());
    }

    void unmapFdset(long clientId) {
        fdsets.remove(clientId);
    }

    /** The lowest id this client has not used, as QEMU picks for add-fd without fdset-id. */
    long lowestFreeFdset() {
        long id = 0;
        while (fdsets.containsKey(id)) {
            id++;
        }
        return id;
    }

    /**
     * The opaque string stored with each upstream fd: who owns it and the client's own fdset id and
     * opaque, so that ownership can be rebuilt from query-fdsets (after a proxy restart).
     */
    String opaqueTag(long clientId, String clientOpaque) {
        return OpaqueTag.format(owner, clientId, clientOpaque);
    }

    public Set<String> names() {
        return names;
    }

    /** Every upstream fdset this client owns. */
    public java.util.Collection<Long> upstreamFdsets() {
        return fdsets.values();
    }
}
