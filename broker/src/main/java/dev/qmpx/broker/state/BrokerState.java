package dev.qmpx.broker.state;

import java.util.List;

/**
 * What survives a broker restart: registrations with their whitelists, and leases (re-taken at
 * start). Plain records, written as JSON by {@link StateStore}.
 */
public record BrokerState(int version, List<GuestState> guests, List<LeaseState> leases) {
    public static final int VERSION = 1;

    public static BrokerState empty() {
        return new BrokerState(VERSION, List.of(), List.of());
    }

    /** @param uid the only peer uid served on the guest's socket, or null for any */
    public record GuestState(String name, Integer uid, List<EntryState> entries) {
    }

    public record EntryState(String path, boolean prefix, List<String> rights, boolean specialFiles) {
    }

    public record LeaseState(String guest, String path, boolean exclusive) {
    }
}
