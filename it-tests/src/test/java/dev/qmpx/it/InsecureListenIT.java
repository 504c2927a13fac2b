package dev.qmpx.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --insecure-listen}: plain TCP QMP through the network front end (netty, epoll) into the
 * same per-guest session a unix client gets, on a real QEMU.
 */
class InsecureListenIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String LISTENER = "tcp:127.0.0.1:0";

    private static QmpClient tcpClient(GuestFixture guest) throws Exception {
        return QmpClient.connect(new Socket("127.0.0.1", guest.proxy.awaitPort(LISTENER)), TIMEOUT);
    }

    @Test
    void aTcpClientNegotiatesGetsItsIdsBackByteForByteAndEveryEvent() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--insecure-listen", "127.0.0.1:0");
             QmpClient unix = guest.client();
             QmpClient tcp = tcpClient(guest)) {
            assertEquals(unix.greeting(), tcp.greeting(), "QEMU's greeting, as a unix client gets it");
            assertEquals("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities negotiation with "
                    + "'qmp_capabilities'\"}}", tcp.execute("{\"execute\": \"query-status\"}", TIMEOUT));
            QmpClient.negotiated(tcp, TIMEOUT);
            for (String id : List.of("-0", "1.50", "1e2", "\"caf\u00e9 \\\"q\\\"\"", "{\"a\": [1, {\"b\": 2.50}]}")) {
                assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": " + id + "}",
                        tcp.execute("{\"execute\": \"query-status\", \"id\": " + id + "}", TIMEOUT));
            }
            assertEquals("{\"return\": {}, \"id\": \"u1\"}", unix.execute("{\"execute\": \"stop\", \"id\": \"u1\"}", TIMEOUT));
            assertTrue(tcp.awaitEvent("STOP", TIMEOUT).startsWith("{\"timestamp\""));
            assertEquals("{\"return\": {}, \"id\": 7}", tcp.execute("{\"execute\": \"cont\", \"id\": 7}", TIMEOUT));
            assertTrue(tcp.events().stream().anyMatch(e -> e.contains("\"event\": \"RESUME\"")), tcp.events().toString());
            unix.awaitEvent("RESUME", TIMEOUT);
        }
    }

    @Test
    void getfdAndAddFdAreRefusedOnANetworkClientAndAUnixClientGoesOn() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--insecure-listen", "127.0.0.1:0");
             QmpClient unix = guest.client();
             QmpClient tcp = QmpClient.negotiated(tcpClient(guest), TIMEOUT);
             QmpClient direct = guest.directClient()) {
            assertEquals("{\"id\": \"g\", \"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: getfd takes a file "
                    + "descriptor passed with SCM_RIGHTS on a unix socket; a network client cannot pass one\"}}",
                    tcp.execute("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}, \"id\": \"g\"}", TIMEOUT));
            assertEquals("{\"id\": \"a\", \"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: add-fd takes a file "
                    + "descriptor passed with SCM_RIGHTS on a unix socket; a network client cannot pass one\"}}",
                    tcp.execute("{\"execute\": \"add-fd\", \"id\": \"a\"}", TIMEOUT));
            assertEquals("{\"return\": []}", direct.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT),
                    "nothing reached QEMU");
            assertTrue(guest.proxy.log().contains("\"command\":\"getfd\",\"result\":\"refused\""), "audited");
            // The network client vanishes mid-session; the unix client's session is untouched.
            tcp.send("{\"execute\": \"query-status\", \"id\": \"late\"}");
            tcp.close();
            assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": 3}",
                    unix.execute("{\"execute\": \"query-status\", \"id\": 3}", TIMEOUT));
            guest.proxy.awaitLog("disconnected (client closed the connection; 127.0.0.1:", TIMEOUT);
            assertTrue(guest.proxy.process.isAlive());
        }
    }

    /** What a forged request or a browser's fetch sends: QMP in the body of an HTTP POST. */
    private static final String QMP_BODY = "{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"stop\"}\n";

    @Test
    void aRawHttpPostCarryingQmpIsRefusedAndClosedBeforeAnythingReachesQemu() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--insecure-listen", "127.0.0.1:0");
             QmpClient unix = guest.client();
             Socket http = new Socket("127.0.0.1", guest.proxy.awaitPort(LISTENER))) {
            http.setSoTimeout((int) TIMEOUT.toMillis());
            http.getOutputStream().write(("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                    + "Content-Length: " + QMP_BODY.length() + "\r\n\r\n" + QMP_BODY).getBytes(StandardCharsets.US_ASCII));
            String answer = new String(http.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(answer.endsWith("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: not QMP (a client's input "
                    + "starts with '{'), got \\\"POST / HTTP/1.1\\\\x0d\\\"\"}}\r\n"), "refused, then closed: " + answer);
            assertRunningAndNoStop(guest, unix);
        }
    }

    @Test
    void aPageInChromiumCannotStopTheGuestWithANoCorsFetch() throws Exception {
        HttpServer page = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        page.createContext("/", exchange -> {
            byte[] html = "<!doctype html><title>elsewhere</title>".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, html.length);
            exchange.getResponseBody().write(html);
            exchange.close();
        });
        page.start();
        try (GuestFixture guest = GuestFixture.start("--insecure-listen", "127.0.0.1:0");
             QmpClient unix = guest.client();
             HeadlessChromium browser = HeadlessChromium.open(guest.dir.resolve("chromium"),
                     "http://localhost:" + page.getAddress().getPort() + "/")) {
            Await.until("the page loaded", TIMEOUT, () -> browser.evaluate("document.title").equals("elsewhere"));
            browser.evaluate("fetch('http://localhost:" + guest.proxy.awaitPort(LISTENER) + "/', {method: 'POST', mode: 'no-cors', "
                    + "body: " + new ObjectMapper().writeValueAsString(QMP_BODY) + "}).catch(() => {}); 'sent'");
            guest.proxy.awaitLog("on " + LISTENER + ": qmpx: not QMP (a client's input starts with '{'), got \"POST / HTTP/1.1",
                    TIMEOUT);
            assertRunningAndNoStop(guest, unix);
        } finally {
            page.stop(0);
        }
    }

    private static void assertRunningAndNoStop(GuestFixture guest, QmpClient unix) throws Exception {
        assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}",
                unix.execute("{\"execute\": \"query-status\"}", TIMEOUT));
        String log = guest.proxy.log();
        assertFalse(log.contains("\"command\":\"stop\""), "no stop in the audit:\n" + log);
        assertTrue(unix.events().isEmpty(), "no STOP: " + unix.events());
    }

    @Test
    void aNonLoopbackAddressIsRefusedWithAClearError() throws Exception {
        Process process = new ProcessBuilder(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "proxy", "--qemu", "/nonexistent.sock",
                "--insecure-listen", "0.0.0.0:4444").redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes());
        assertEquals(2, process.waitFor(), out);
        assertTrue(out.contains("--insecure-listen takes loopback addresses only (127.0.0.1, ::1), not 0.0.0.0; "
                + "use --listen-tls"), out);
    }
}
