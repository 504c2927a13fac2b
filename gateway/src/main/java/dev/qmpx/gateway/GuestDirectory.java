package dev.qmpx.gateway;

import dev.qmpx.proxy.routing.Guest;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The guests one network listener serves, by the name a client asks for: the guest's name itself,
 * or a host name whose first label is the guest's name ({@code vm1.qmpx.example.com}, so that one
 * wildcard server certificate covers every guest). With one guest any name (or none) reaches it.
 * Immutable.
 */
public final class GuestDirectory {
    private final Map<String, Guest> guests = new LinkedHashMap<>();

    public GuestDirectory(List<Guest> guests) {
        guests.forEach(guest -> this.guests.put(guest.config().name(), guest));
    }

    /** A client asked for a guest that is not here; the message is for the client. */
    public static final class UnknownGuest extends Exception {
        UnknownGuest(String message) {
            super(message);
        }
    }

    /** @param requested the name the client gave, or null when it gave none */
    public Guest find(String requested, String how) throws UnknownGuest {
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

    /** The policy every guest shares (one --policy per process). */
    public dev.qmpx.proxy.policy.Policy policy() {
        return guests.values().iterator().next().config().policy();
    }

    /** The largest client message, the same for every guest (--max-message-bytes). */
    public int maxMessageBytes() {
        return guests.values().iterator().next().config().clientLimits().maxMessageBytes();
    }

    public List<Guest> all() {
        return List.copyOf(guests.values());
    }
}
