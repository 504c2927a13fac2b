package dev.qmpx.broker.state;

import java.util.List;

/**
 * What survives a broker restart: registrations with their whitelists, leases (re-taken at
 * start), and the files guests created recently (which their unlink may still remove, e.g. a
 * snapshot undone by a proxy after both crashed). Plain records, written as JSON by
 * {@link StateStore}; a version-1 file without {@code created} loads with none.
 */
public record BrokerState(int version, List<GuestState> guests, List<LeaseState> leases, List<CreatedState> created) {
    public static final int VERSION = 1;

    public BrokerState {
        created = created == null ? List.of() : created;
    }

    public static BrokerState empty() {
        return new BrokerState(VERSION, List.of(), List.of(), List.of());
    }

    /** A file the guest created through the broker: its inode and when, in ms since the epoch. */
    public record CreatedState(String guest, String path, long inode, long createdMillis) {
    }

    /** @param uid the only peer uid served on the guest's socket, or null for any */
    public record GuestState(String name, Integer uid, List<EntryState> entries) {
    }

    public record EntryState(String path, boolean prefix, List<String> rights, boolean specialFiles) {
    }

    public record LeaseState(String guest, String path, boolean exclusive) {
    }
}
