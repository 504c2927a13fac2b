package dev.qmpx.proxy.metrics;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;

/**
 * The Prometheus text endpoint of {@code --metrics [HOST:]PORT}: {@code /metrics} on the JDK's HTTP
 * server (its own pool of daemon threads, plain TCP: no junixsocket, no guest state touched; a
 * scrape only reads the registry). Loopback unless a host is given: the series name guests and
 * client pids.
 */
public final class MetricsEndpoint {
    private MetricsEndpoint() {
    }

    /** The host and port of an address {@code PORT}, {@code HOST:PORT} or {@code [V6]:PORT}. */
    public record Address(String host, int port) {
        public static Address parse(String text) {
            int colon = text.lastIndexOf(':');
            String host = colon < 0 ? "127.0.0.1" : text.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(text.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("expected PORT or HOST:PORT, got '" + text + "'");
            }
            if (port < 0 || port > 65535 || host.isEmpty()) {
                throw new IllegalArgumentException("expected PORT (0-65535) or HOST:PORT, got '" + text + "'");
            }
            return new Address(host, port);
        }
    }

    public static HTTPServer start(Address address, PrometheusRegistry registry) throws IOException {
        return HTTPServer.builder().hostname(address.host()).port(address.port()).registry(registry).buildAndStart();
    }
}
