package dev.qmpx.gateway;

import dev.qmpx.proxy.policy.Policy;
import dev.qmpx.proxy.policy.RemoteIdentity;
import dev.qmpx.proxy.policy.Role;
import dev.qmpx.proxy.routing.Guest;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The guests one network listener serves, by the name a client asks for: the guest's name itself,
 * or a host name whose first label is the guest's name ({@code vm1.qmpx.example.com}, so that one
 * wildcard server certificate covers every guest), compared ignoring ASCII case as DNS compares
 * names. With one guest any name (or none) reaches it. A client reaches a guest only if the policy
 * gives it a role there. Immutable.
 */
public final class GuestDirectory {
    private final Map<String, Guest> guests = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);

    /** @throws IOException when two guests' names differ only in case */
    public GuestDirectory(List<Guest> guests) throws IOException {
        for (Guest guest : guests) {
            if (this.guests.putIfAbsent(guest.config().name(), guest) != null) {
                throw new IOException("guest names '" + guest.config().name() + "' and '"
                        + this.guests.get(guest.config().name()).config().name()
                        + "' differ only in case: network clients (SNI, DNS) cannot tell them apart");
            }
        }
    }

    /** A client asked for a guest that is not here, or not its; the message is for the client. */
    public static final class UnknownGuest extends Exception {
        UnknownGuest(String message) {
            super(message);
        }
    }

    /**
     * The guest a network client asked for, if the policy gives it a role there.
     *
     * @param requested the name the client gave, or null when it gave none
     */
    public Guest find(String requested, String how, String listener, RemoteIdentity identity) throws UnknownGuest {
        Guest guest = find(requested, how);
        if (roleFor(guest, listener, identity).equals(Role.NONE)) {
            throw new UnknownGuest("qmpx: " + identity + " has no role on guest '" + guest.config().name()
                    + "' on " + listener);
        }
        return guest;
    }

    private Guest find(String requested, String how) throws UnknownGuest {
        if (requested != null) {
            Guest guest = guests.get(requested);
            if (guest == null) {
                guest = guests.get(requested.split("\\.", 2)[0]);
            }
            if (guest != null) {
                return guest;
            }
        }
        if (guests.size() == 1) {
            return guests.values().iterator().next();
        }
        throw new UnknownGuest(requested == null
                ? "qmpx: name the guest with " + how + " (guests: " + String.join(", ", guests.keySet()) + ")"
                : "qmpx: no guest named '" + requested + "' (guests: " + String.join(", ", guests.keySet()) + ")");
    }

    /** The role a network client has on the guest (a network peer has no uid or gid). */
    public Role roleFor(Guest guest, String listener, RemoteIdentity identity) {
        return policy().roleFor(guest.config().name(), listener, -1, -1, identity);
    }

    /** The policy every guest shares (one --policy per process). */
    public Policy policy() {
        return guests.values().iterator().next().config().policy();
    }

    /** The largest client message, the same for every guest (--max-message-bytes). */
    public int maxMessageBytes() {
        return guests.values().iterator().next().config().clientLimits().maxMessageBytes();
    }

    /** The output a client may leave unread, the same for every guest (--client-output-limit). */
    public long outputLimit() {
        return guests.values().iterator().next().config().clientOutputLimit();
    }

    public List<Guest> all() {
        return List.copyOf(guests.values());
    }
}
