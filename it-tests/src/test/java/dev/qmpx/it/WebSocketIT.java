package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --listen-ws}: QMP over WebSocket (TLS) with the JDK's own client, by certificate or bearer token. */
class WebSocketIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String LISTENER = "ws:127.0.0.1:0";
    private static final String RUNNING = "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}";

    private static final TlsMaterial tls = TlsMaterial.shared();

    private static URI qmp(GuestFixture guest) {
        return URI.create("wss://127.0.0.1:" + guest.proxy.awaitPort(LISTENER) + "/qmp");
    }

    @Test
    void aJdkWebSocketClientWithACertificateRunsAQmpSession() throws Exception {
        try (GuestFixture guest = GuestFixture.start(tls.options("--listen-ws").toArray(String[]::new));
             QmpClient unix = guest.client();
             WsClient ws = WsClient.open(qmp(guest), tls.admin.clientContext(tls.ca), Map.of())) {
            assertEquals(unix.greeting(), ws.next(TIMEOUT), "QEMU's greeting, one text frame");
            assertEquals("{\"return\": {}}", ws.execute("{\"execute\": \"qmp_capabilities\"}", TIMEOUT));
            for (String id : java.util.List.of("1.50", "-0", "{\"a\": [1, {\"b\": 2.50}]}")) {
                assertEquals(RUNNING + ", \"id\": " + id + "}", ws.execute("{\"execute\": \"query-status\", \"id\": " + id + "}", TIMEOUT));
            }
            assertEquals("{\"return\": {}}", unix.execute("{\"execute\": \"stop\"}", TIMEOUT));
            assertTrue(ws.next(TIMEOUT).contains("\"event\": \"STOP\""), "the unix client's STOP event");
            assertTrue(ws.execute("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}", TIMEOUT)
                    .contains("qmpx: getfd takes a file descriptor passed with SCM_RIGHTS on a unix socket"));
            assertTrue(guest.proxy.log().contains("certificate 'CN=admin,O=qmpx-test', listener " + LISTENER + ", role admin"));
        }
    }

    @Test
    void aBearerTokenAuthenticatesWithItsRoleAndAMissingOrUnknownOneGets401() throws Exception {
        try (GuestFixture guest = GuestFixture.start(tls.options("--listen-ws", "--tls-client-auth", "optional").toArray(String[]::new));
             WsClient ws = WsClient.open(qmp(guest), tls.ca.anonymousClientContext(),
                     Map.of("Authorization", "Bearer " + TlsMaterial.READONLY_TOKEN))) {
            ws.next(TIMEOUT);
            assertEquals("{\"return\": {}}", ws.execute("{\"execute\": \"qmp_capabilities\"}", TIMEOUT));
            assertEquals(RUNNING + "}", ws.execute("{\"execute\": \"query-status\"}", TIMEOUT));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the role 'readonly' does not allow 'stop'\"}}",
                    ws.execute("{\"execute\": \"stop\"}", TIMEOUT));
            for (Map<String, String> headers : java.util.List.of(Map.<String, String>of(), Map.of("Authorization", "Bearer wrong"))) {
                ExecutionException refused = assertThrows(ExecutionException.class,
                        () -> WsClient.open(qmp(guest), tls.ca.anonymousClientContext(), headers));
                assertEquals(401, ((WebSocketHandshakeException) refused.getCause()).getResponse().statusCode());
            }
            guest.proxy.awaitLog("on " + LISTENER + ": no client certificate and no bearer token", TIMEOUT);
            guest.proxy.awaitLog("on " + LISTENER + ": unknown bearer token", TIMEOUT);
        }
    }

    @Test
    void aFrameOverTheMessageLimitClosesTheSocketWith1009AndNothingReachesQemu() throws Exception {
        try (GuestFixture guest = GuestFixture.start(tls.options("--listen-ws", "--max-message-bytes", "65536").toArray(String[]::new));
             QmpClient unix = guest.client();
             WsClient ws = WsClient.open(qmp(guest), tls.admin.clientContext(tls.ca), Map.of())) {
            ws.next(TIMEOUT);
            ws.execute("{\"execute\": \"qmp_capabilities\"}", TIMEOUT);
            ws.send("{\"execute\": \"stop\", \"arguments\": {\"pad\": \"" + "x".repeat(100_000) + "\"}}");
            // The proxy sends close 1009 and closes; the rest of the frame, still arriving, makes the
            // kernel reset the connection, which may overtake the close frame (then 1006).
            String closed = ws.next(TIMEOUT);
            assertTrue(closed.startsWith("CLOSED 1009") || closed.startsWith("CLOSED 1006"), "closed: " + closed);
            guest.proxy.awaitLog("on " + LISTENER + ": a message over the limit of 65536 bytes", TIMEOUT);
            assertEquals(RUNNING + "}", unix.execute("{\"execute\": \"query-status\"}", TIMEOUT));
        }
    }
}
