package dev.qmpx.proxy.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The proxy's Prometheus metrics: one registry per process, each family shared by every guest and
 * labelled with the guest's name. Always collected (an increment costs nanoseconds against QEMU's
 * tens of microseconds per command); exposed only with {@code --metrics}. Thread-safe: the client
 * library's data points are, and {@link GuestMetrics} keeps its caches on the guest's loop thread.
 */
public final class ProxyMetrics {
    /** From a fast query (~50 us) to a long QEMU job, in seconds. */
    private static final double[] LATENCY_BOUNDS = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
            0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

    final PrometheusRegistry registry = new PrometheusRegistry();
    final Counter commands = Counter.builder().name("qmpx_commands_total")
            .help("Client commands sent to QEMU or refused by the proxy, by result: return, QEMU's error class, "
                    + "denied, timeout, job-wait-timeout")
            .labelNames("guest", "command", "result").register(registry);
    final Histogram commandSeconds = Histogram.builder().name("qmpx_command_duration_seconds")
            .help("Time from sending a client's command to QEMU to its reply")
            .labelNames("guest", "command").classicOnly().classicUpperBounds(LATENCY_BOUNDS).register(registry);
    final Counter clientCommands = Counter.builder().name("qmpx_client_commands_total")
            .help("Commands answered per connected client (the series goes when the client does)")
            .labelNames("guest", "client", "pid", "uid").register(registry);
    final Gauge clients = Gauge.builder().name("qmpx_clients").help("Connected client sessions")
            .labelNames("guest").register(registry);
    final Counter connections = Counter.builder().name("qmpx_client_connections_total")
            .help("Client connections accepted").labelNames("guest").register(registry);
    final Gauge inFlight = Gauge.builder().name("qmpx_commands_in_flight")
            .help("Commands sent to QEMU and not answered yet").labelNames("guest").register(registry);
    final Gauge upstream = Gauge.builder().name("qmpx_upstream_ready")
            .help("1 while the proxy's connection to QEMU is negotiated and serving, else 0")
            .labelNames("guest").register(registry);
    final Counter events = Counter.builder().name("qmpx_events_total").help("Events received from QEMU")
            .labelNames("guest", "event").register(registry);
    final Histogram jobWaitSeconds = Histogram.builder().name("qmpx_job_wait_seconds")
            .help("How long a state-changing command waited for the guest's job held by another client")
            .labelNames("guest").classicOnly().classicUpperBounds(LATENCY_BOUNDS).register(registry);
    final Counter fdsReceived = Counter.builder().name("qmpx_client_fds_received_total")
            .help("File descriptors received from clients over SCM_RIGHTS").labelNames("guest").register(registry);
    final Counter fdsPassed = Counter.builder().name("qmpx_fds_passed_total")
            .help("File descriptors passed to QEMU, by where they came from: client or broker")
            .labelNames("guest", "source").register(registry);
    final Counter brokerRequests = Counter.builder().name("qmpx_broker_requests_total")
            .help("Open requests to the broker on the guest's behalf, by request (open, create) and result: "
                    + "granted, the broker's error class, unreachable")
            .labelNames("guest", "request", "result").register(registry);
    final Histogram brokerSeconds = Histogram.builder().name("qmpx_broker_request_duration_seconds")
            .help("Time of one answered broker request").labelNames("guest")
            .classicOnly().classicUpperBounds(LATENCY_BOUNDS).register(registry);

    public ProxyMetrics() {
        GaugeWithCallback.builder().name("qmpx_process_open_fds")
                .help("File descriptors the proxy process has open (sockets, fds in transit, files)")
                .callback(callback -> callback.call(openFds())).register(registry);
    }

    /** The metrics of one guest. */
    public GuestMetrics guest(String name) {
        return new GuestMetrics(this, name);
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    private static double openFds() {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count() - 1; // minus the directory stream's own fd
        } catch (IOException e) {
            return Double.NaN;
        }
    }
}
