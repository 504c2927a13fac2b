package dev.qmpx.proxy.routing;

import dev.qmpx.proxy.metrics.ProxyMetrics;
import dev.qmpx.proxy.policy.CommandAudit;
import dev.qmpx.proxy.policy.Policy;
import dev.qmpx.qmp.catalogue.CommandClass;
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
 * @param timeouts reply timeouts per command class and the job's bounds
 * @param policy which role each client gets
 * @param audit where state-changing commands are recorded
 * @param broker the guest's open-hook socket: files named in commands are opened by the broker and
 *     passed to QEMU as fds; null to let QEMU open them itself
 * @param brokerTimeoutMillis how long one broker request may take
 * @param stateDir where the proxy keeps what must survive its own crash (snapshot journals)
 * @param metrics the process's metrics, which the guest adds its series to
 */
public record GuestConfig(String name, Path qemuSocket, boolean reconnect, int maxInFlight,
                          JsonLimits clientLimits, long clientOutputLimit, int clientQueueLimit,
                          Timeouts timeouts, Policy policy, CommandAudit audit, Path broker, long brokerTimeoutMillis, Path stateDir,
                          ProxyMetrics metrics) {
    public static final int DEFAULT_MAX_IN_FLIGHT = 8;
    public static final long DEFAULT_CLIENT_OUTPUT_LIMIT = 8L << 20;
    public static final int DEFAULT_CLIENT_QUEUE_LIMIT = 64;

    /**
     * @param queryMillis reply timeout of a query
     * @param modifyMillis reply timeout of another command
     * @param jobMillis reply timeout of a command that starts a QEMU job
     * @param jobWaitMillis how long a command may wait for the guest's job before it fails
     * @param jobIdleMillis how long a job taken with __dev.qmpx_job-begin may sit without a command
     *     that needs it (queries do not count)
     * @param jobMaxMillis how long a job taken with __dev.qmpx_job-begin may be held at all
     * @param negotiationMillis how long a greeted client may go without qmp_capabilities before it
     *     is disconnected (until then it holds a connection slot and an input buffer for nothing)
     */
    public record Timeouts(long queryMillis, long modifyMillis, long jobMillis, long jobWaitMillis, long jobIdleMillis,
                           long jobMaxMillis, long negotiationMillis) {
        public static final Timeouts DEFAULT = new Timeouts(10_000, 60_000, 600_000, 30_000, 60_000, 600_000, 10_000);

        public long replyMillis(CommandClass commandClass) {
            return switch (commandClass) {
                case QUERY -> queryMillis;
                case MODIFY -> modifyMillis;
                case JOB -> jobMillis;
            };
        }
    }

    /**
     * The default state directory: the user's runtime directory (journals matter as long as the
     * QEMU processes they describe, which do not survive a reboot either).
     */
    public static Path defaultStateDir() {
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        if (runtime != null && !runtime.isEmpty()) {
            return Path.of(runtime, "qmpx");
        }
        return Path.of("root".equals(System.getProperty("user.name")) ? "/run/qmpx"
                : System.getProperty("java.io.tmpdir") + "/qmpx-" + System.getProperty("user.name"));
    }

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
