package dev.qmpx.proxy.routing;

import dev.qmpx.qmp.json.JsonLimits;

import java.nio.file.Path;

/**
 * Settings of one guest's proxy.
 *
 * @param maxInFlight commands sent to QEMU and not yet answered; QEMU without OOB executes one at a
 *     time, the rest wait in its socket buffer, so a few suffice to keep it busy
 * @param clientLimits size and nesting bounds on each client message
 * @param clientOutputLimit bytes queued for a client that is not reading before it is disconnected
 * @param clientQueueLimit a client's commands waiting or in flight before the proxy stops reading it
 */
public record GuestConfig(String name, Path qemuSocket, boolean reconnect, int maxInFlight,
                          JsonLimits clientLimits, long clientOutputLimit, int clientQueueLimit) {
    public static final int DEFAULT_MAX_IN_FLIGHT = 8;
    public static final long DEFAULT_CLIENT_OUTPUT_LIMIT = 8L << 20;
    public static final int DEFAULT_CLIENT_QUEUE_LIMIT = 64;

    public GuestConfig {
        if (maxInFlight < 1 || maxInFlight > 64) {
            throw new IllegalArgumentException("max in flight must be between 1 and 64, got " + maxInFlight);
        }
        if (clientOutputLimit < 64 * 1024) {
            throw new IllegalArgumentException("client output limit must be at least 65536 bytes, got " + clientOutputLimit);
        }
        if (clientQueueLimit < 1) {
            throw new IllegalArgumentException("client queue limit must be at least 1, got " + clientQueueLimit);
        }
    }
}
