package dev.qmpx.proxy.remote;

import dev.qmpx.broker.cli.UsageException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The network front end's options: what is required with what, and plain TCP on loopback only. */
class RemoteOptionsTest {
    private static RemoteOptions build(String... optionsAndValues) throws UsageException {
        RemoteOptions.Builder builder = new RemoteOptions.Builder();
        for (int i = 0; i < optionsAndValues.length; i += 2) {
            builder.accept(optionsAndValues[i], optionsAndValues[i + 1]);
        }
        return builder.build();
    }

    @Test
    void noNetworkOptionMeansNoFrontEnd() throws UsageException {
        assertNull(build());
    }

    @Test
    void tlsListenersNeedTheirMaterialAndDefaultToMutualTls13() throws UsageException {
        UsageException missing = assertThrows(UsageException.class, () -> build("--listen-tls", "0.0.0.0:4444"));
        assertEquals("--listen-tls and --listen-ws need --tls-cert, --tls-key and --tls-ca", missing.getMessage());
        RemoteOptions options = build("--listen-ws", "[::1]:4443", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a");
        assertEquals("::1", options.ws().get(0).host());
        assertTrue(options.clientCertRequired());
        assertFalse(options.allowTls12());
        assertEquals(RemoteOptions.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS, options.handshakeTimeoutMillis());
        assertEquals(RemoteOptions.ConnectionLimits.DEFAULTS, options.limits());
    }

    @Test
    void eachConnectionLimitIsSetByItsOwnOptionAndLeavesTheOthers() throws UsageException {
        RemoteOptions.Builder builder = new RemoteOptions.Builder();
        builder.accept("--insecure-listen", "127.0.0.1:4444");
        builder.requestTimeout(500);
        builder.maxConnectionsPerAddress(3);
        RemoteOptions.ConnectionLimits limits = builder.build().limits();
        assertEquals(new RemoteOptions.ConnectionLimits(500, RemoteOptions.ConnectionLimits.DEFAULTS.wsIdleMillis(),
                RemoteOptions.ConnectionLimits.DEFAULTS.perListener(), 3), limits);
    }

    @Test
    void plainTcpListensOnLoopbackOnly() throws UsageException {
        assertEquals(1, build("--insecure-listen", "127.0.0.1:4444").insecure().size());
        UsageException open = assertThrows(UsageException.class, () -> build("--insecure-listen", "0.0.0.0:4444"));
        assertTrue(open.getMessage().startsWith("--insecure-listen takes loopback addresses only"), open.getMessage());
    }

    @Test
    void badValuesAreNamed() {
        assertEquals("--tls-client-auth is 'required' or 'optional', got 'maybe'",
                assertThrows(UsageException.class, () -> build("--tls-client-auth", "maybe")).getMessage());
        assertEquals("TLS options need --listen-tls, --listen-ws or --insecure-listen",
                assertThrows(UsageException.class, () -> build("--tls-min-version", "1.2")).getMessage());
        assertTrue(assertThrows(UsageException.class, () -> build("--listen-tls", "host:port")).getMessage()
                .startsWith("--listen-tls: expected PORT or HOST:PORT"));
    }
}
