package dev.qmpx.proxy.remote;

import dev.qmpx.broker.cli.UsageException;
import dev.qmpx.proxy.metrics.MetricsEndpoint.Address;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The network front end's options of {@code qmpx proxy} (see its --help): where it listens and
 * with which TLS material. Immutable.
 *
 * @param tls QMP over TLS, one JSON message per line as on a unix socket
 * @param ws QMP over WebSocket (TLS), one message per text frame, and the status page
 * @param insecure plain TCP, loopback addresses only
 * @param clientCertRequired whether every TLS client must present a certificate the CA signed; when
 *     not, a WebSocket or page client may authenticate with a bearer token instead
 * @param allowTls12 whether TLS 1.2 is offered besides 1.3
 * @param handshakeTimeoutMillis how long a TLS handshake may take before the connection is dropped
 * @param limits the other bounds on a network connection's phases and numbers
 */
public record RemoteOptions(List<Address> tls, List<Address> ws, List<Address> insecure, Path cert, Path key, Path ca,
                            boolean clientCertRequired, boolean allowTls12, long handshakeTimeoutMillis,
                            ConnectionLimits limits) {
    public static final long DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;

    /**
     * Bounds that keep unauthenticated or idle peers from holding the process's fds.
     *
     * @param requestTimeoutMillis how long a --listen-ws client has, after its TLS handshake, to
     *     send a whole HTTP request (and, for a WebSocket, to see its upgrade through)
     * @param wsIdleMillis a WebSocket that sends nothing (no frame, not even the pong to the
     *     proxy's ping, sent at half this time) for this long is closed
     * @param perListener connections one listener holds at once; more are closed at accept
     * @param perAddress connections one peer IP address holds at once on one listener
     */
    public record ConnectionLimits(long requestTimeoutMillis, long wsIdleMillis, int perListener, int perAddress) {
        public static final ConnectionLimits DEFAULTS = new ConnectionLimits(10_000, 60_000, 512, 64);
    }

    public RemoteOptions {
        tls = List.copyOf(tls);
        ws = List.copyOf(ws);
        insecure = List.copyOf(insecure);
    }

    /** Collects the options as ProxyOptions meets them on the command line. */
    public static final class Builder {
        private final List<Address> tls = new ArrayList<>();
        private final List<Address> ws = new ArrayList<>();
        private final List<Address> insecure = new ArrayList<>();
        private Path cert;
        private Path key;
        private Path ca;
        private boolean clientCertRequired = true;
        private boolean allowTls12;
        private long handshakeTimeoutMillis = DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;
        private ConnectionLimits limits = ConnectionLimits.DEFAULTS;
        private boolean any;

        public void accept(String option, String value) throws UsageException {
            any = true;
            switch (option) {
                case "--listen-tls" -> tls.add(address(option, value));
                case "--listen-ws" -> ws.add(address(option, value));
                case "--insecure-listen" -> insecure.add(loopback(address(option, value)));
                case "--tls-cert" -> cert = Path.of(value);
                case "--tls-key" -> key = Path.of(value);
                case "--tls-ca" -> ca = Path.of(value);
                case "--tls-client-auth" -> clientCertRequired = switch (value) {
                    case "required" -> true;
                    case "optional" -> false;
                    default -> throw new UsageException("--tls-client-auth is 'required' or 'optional', got '" + value + "'");
                };
                case "--tls-min-version" -> allowTls12 = switch (value) {
                    case "1.3" -> false;
                    case "1.2" -> true;
                    default -> throw new UsageException("--tls-min-version is 1.3 or 1.2, got '" + value + "'");
                };
                default -> throw new IllegalArgumentException(option);
            }
        }

        /** --tls-handshake-timeout, in milliseconds (parsed as seconds by the caller). */
        public void handshakeTimeout(long millis) {
            any = true;
            handshakeTimeoutMillis = millis;
        }

        /** --http-request-timeout, in milliseconds. */
        public void requestTimeout(long millis) {
            any = true;
            limits = new ConnectionLimits(millis, limits.wsIdleMillis(), limits.perListener(), limits.perAddress());
        }

        /** --ws-idle-timeout, in milliseconds. */
        public void wsIdleTimeout(long millis) {
            any = true;
            limits = new ConnectionLimits(limits.requestTimeoutMillis(), millis, limits.perListener(), limits.perAddress());
        }

        /** --max-connections. */
        public void maxConnections(int count) {
            any = true;
            limits = new ConnectionLimits(limits.requestTimeoutMillis(), limits.wsIdleMillis(), count, limits.perAddress());
        }

        /** --max-connections-per-address. */
        public void maxConnectionsPerAddress(int count) {
            any = true;
            limits = new ConnectionLimits(limits.requestTimeoutMillis(), limits.wsIdleMillis(), limits.perListener(), count);
        }

        /** @return the options, or null when none was given */
        public RemoteOptions build() throws UsageException {
            if (!any) {
                return null;
            }
            if (tls.isEmpty() && ws.isEmpty() && insecure.isEmpty()) {
                throw new UsageException("TLS options need --listen-tls, --listen-ws or --insecure-listen");
            }
            if (!tls.isEmpty() || !ws.isEmpty()) {
                if (cert == null || key == null || ca == null) {
                    throw new UsageException("--listen-tls and --listen-ws need --tls-cert, --tls-key and --tls-ca");
                }
            } else if (cert != null || key != null || ca != null) {
                throw new UsageException("--tls-cert, --tls-key and --tls-ca belong to --listen-tls or --listen-ws");
            }
            return new RemoteOptions(tls, ws, insecure, cert, key, ca, clientCertRequired, allowTls12, handshakeTimeoutMillis,
                    limits);
        }

        private static Address address(String option, String value) throws UsageException {
            try {
                return Address.parse(value);
            } catch (IllegalArgumentException e) {
                throw new UsageException(option + ": " + e.getMessage());
            }
        }

        /** Plain TCP has neither encryption nor authentication: only this host's users may reach it. */
        private static Address loopback(Address address) throws UsageException {
            try {
                for (InetAddress resolved : InetAddress.getAllByName(address.host())) {
                    if (!resolved.isLoopbackAddress()) {
                        throw new UsageException("--insecure-listen takes loopback addresses only (127.0.0.1, ::1), not "
                                + address.host() + (address.host().equals(resolved.getHostAddress()) ? "" : " ("
                                + resolved.getHostAddress() + ")") + "; use --listen-tls");
                    }
                }
            } catch (UnknownHostException e) {
                throw new UsageException("--insecure-listen: unknown host '" + address.host() + "'");
            }
            return address;
        }
    }
}
