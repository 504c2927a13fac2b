package dev.qmpx.proxy.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;

import java.util.HashMap;
import java.util.Map;

/**
 * One guest's view of the proxy's metrics, with its label children cached. Everything but
 * {@link #brokerRequest} is called on the guest's loop thread, which owns the caches;
 * {@link #brokerRequest} runs on broker worker threads and uses no cache.
 */
public final class GuestMetrics {
    /** Label value for command names QEMU does not know, so clients cannot grow the series without bound. */
    public static final String OTHER_COMMAND = "other";

    private final ProxyMetrics metrics;
    private final String guest;
    private final Map<String, CounterDataPoint> commandResults = new HashMap<>();
    private final Map<String, DistributionDataPoint> commandDurations = new HashMap<>();
    private final Map<String, CounterDataPoint> events = new HashMap<>();
    private final Map<Object, ClientSeries> clients = new HashMap<>();
    private final CounterDataPoint fdsReceived;
    private final CounterDataPoint fdsFromClients;
    private final CounterDataPoint fdsFromBroker;
    private final CounterDataPoint connections;

    private record ClientSeries(String[] labels, CounterDataPoint commands) {
    }

    GuestMetrics(ProxyMetrics metrics, String guest) {
        this.metrics = metrics;
        this.guest = guest;
        this.fdsReceived = metrics.fdsReceived.labelValues(guest);
        this.fdsFromClients = metrics.fdsPassed.labelValues(guest, "client");
        this.fdsFromBroker = metrics.fdsPassed.labelValues(guest, "broker");
        this.connections = metrics.connections.labelValues(guest);
        metrics.clients.labelValues(guest).set(0);
        metrics.inFlight.labelValues(guest).set(0);
        metrics.upstream.labelValues(guest).set(0);
    }

    /** A client's command got QEMU's reply: its result (return or an error class) and its time. */
    public void answered(Object client, String command, String result, long sentNanos) {
        count(command, result);
        commandDurations.computeIfAbsent(command, c -> metrics.commandSeconds.labelValues(guest, c))
                .observe((System.nanoTime() - sentNanos) / 1e9);
        ClientSeries series = clients.get(client);
        if (series != null) {
            series.commands().inc();
        }
    }

    /** A client's command ended without QEMU's reply: denied, timeout, job-wait-timeout. */
    public void ended(String command, String result) {
        count(command, result);
    }

    private void count(String command, String result) {
        commandResults.computeIfAbsent(command + '\0' + result, k -> metrics.commands.labelValues(guest, command, result)).inc();
    }

    public void clientConnected(Object client, String name, long pid, long uid, int connected) {
        String[] labels = {guest, name, Long.toString(pid), Long.toString(uid)};
        clients.put(client, new ClientSeries(labels, metrics.clientCommands.labelValues(labels)));
        connections.inc();
        metrics.clients.labelValues(guest).set(connected);
    }

    public void clientDisconnected(Object client, int connected) {
        ClientSeries series = clients.remove(client);
        if (series != null) {
            metrics.clientCommands.remove(series.labels());
        }
        metrics.clients.labelValues(guest).set(connected);
    }

    public void event(String name) {
        events.computeIfAbsent(name, n -> metrics.events.labelValues(guest, n)).inc();
    }

    public void inFlight(int commands) {
        metrics.inFlight.labelValues(guest).set(commands);
    }

    public void upstreamReady(boolean ready) {
        metrics.upstream.labelValues(guest).set(ready ? 1 : 0);
    }

    /** A command waited this long for the job (it got it, or its wait ran out). */
    public void jobWaited(long sinceNanos) {
        metrics.jobWaitSeconds.labelValues(guest).observe((System.nanoTime() - sinceNanos) / 1e9);
    }

    public void fdsReceived(int count) {
        fdsReceived.inc(count);
    }

    public void fdsPassed(boolean fromBroker, int count) {
        (fromBroker ? fdsFromBroker : fdsFromClients).inc(count);
    }

    /** One broker request's outcome (granted, the broker's error class, unreachable); any thread. */
    public void brokerRequest(String request, String result, long sentNanos) {
        metrics.brokerRequests.labelValues(guest, request, result).inc();
        if (!result.equals("unreachable")) {
            metrics.brokerSeconds.labelValues(guest).observe((System.nanoTime() - sentNanos) / 1e9);
        }
    }
}
