package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --listen-tls}: QMP over mutual TLS 1.3 with a Python client on the standard ssl module,
 * roles from the client certificate, the guest named by SNI, and every kind of refused client.
 */
class TlsListenIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String LISTENER = "tls:127.0.0.1:0";
    private static final String RUNNING = "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}";

    private static final TlsMaterial tls = TlsMaterial.shared();

    private static List<String> tlsOptions(String... more) {
        return tls.options("--listen-tls", more);
    }

    private static GuestFixture guest(String... more) throws Exception {
        return GuestFixture.start(tlsOptions(more).toArray(String[]::new));
    }

    private static PythonTlsClient python(GuestFixture guest, String serverName, TestPki.Issued certificate) throws Exception {
        return PythonTlsClient.start(guest.dir.path, guest.proxy.awaitPort(LISTENER), serverName, tls.ca.cert(), certificate);
    }

    @Test
    void aPythonSslClientRunsAQmpSessionWithExactIdsAndEvents() throws Exception {
        try (GuestFixture guest = guest();
             QmpClient unix = guest.client();
             PythonTlsClient python = python(guest, "vm.qmpx.test", tls.admin)) {
            QmpClient tls = python.qmp;
            assertEquals("CONNECTED TLSv1.3", python.nextReport(TIMEOUT));
            assertEquals(unix.greeting(), tls.readLine(TIMEOUT), "QEMU's greeting");
            QmpClient.negotiated(tls, TIMEOUT);
            for (String id : List.of("-0", "1.50", "1e2", "\"caf\u00e9\"", "{\"a\": [1, {\"b\": 2.50}]}")) {
                assertEquals(RUNNING + ", \"id\": " + id + "}", tls.execute("{\"execute\": \"query-status\", \"id\": " + id + "}", TIMEOUT));
            }
            assertEquals("{\"return\": {}, \"id\": \"s\"}", tls.execute("{\"execute\": \"stop\", \"id\": \"s\"}", TIMEOUT));
            assertTrue(tls.events().stream().anyMatch(e -> e.contains("\"event\": \"STOP\"")), "its own STOP event");
            unix.awaitEvent("STOP", TIMEOUT);
            assertEquals("{\"return\": {}}", unix.execute("{\"execute\": \"cont\"}", TIMEOUT));
            assertTrue(tls.awaitEvent("RESUME", TIMEOUT).contains("\"event\": \"RESUME\""), "the unix client's RESUME");
            assertTrue(guest.proxy.log().contains("certificate 'CN=admin,O=qmpx-test', listener " + LISTENER + ", role admin"),
                    guest.proxy.log());
        }
    }

    @Test
    void aReadonlyCertificateIsDeniedStopButReceivesTheStopAUnixClientCaused() throws Exception {
        try (GuestFixture guest = guest();
             QmpClient unix = guest.client();
             PythonTlsClient python = python(guest, "vm.qmpx.test", tls.readonly)) {
            assertEquals("CONNECTED TLSv1.3", python.nextReport(TIMEOUT));
            python.qmp.readLine(TIMEOUT);
            QmpClient tls = QmpClient.negotiated(python.qmp, TIMEOUT);
            assertEquals("{\"id\": 1, \"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the role 'readonly' does not "
                    + "allow 'stop'\"}}", tls.execute("{\"execute\": \"stop\", \"id\": 1}", TIMEOUT));
            assertEquals(RUNNING + "}", unix.execute("{\"execute\": \"query-status\"}", TIMEOUT), "the denied stop never reached QEMU");
            assertEquals("{\"return\": {}}", unix.execute("{\"execute\": \"stop\"}", TIMEOUT));
            assertTrue(tls.awaitEvent("STOP", TIMEOUT).contains("\"event\": \"STOP\""));
            assertTrue(guest.proxy.log().contains("\"listener\":\"tls:127.0.0.1:0\",\"command\":\"stop\",\"result\":\"denied\""),
                    "audited with its listener");
        }
    }

    @Test
    void wrongCaNoCertificateAnExpiredOnePlainTextAndAStalledHandshakeAreRefusedAndLogged() throws Exception {
        try (GuestFixture guest = guest("--tls-handshake-timeout", "0.5");
             QmpClient unix = guest.client()) {
            int port = guest.proxy.awaitPort(LISTENER);
            int refusals = 0;
            for (TestPki.Issued certificate : java.util.Arrays.asList(tls.foreign, null, tls.expired)) {
                try (PythonTlsClient python = python(guest, "vm.qmpx.test", certificate)) {
                    // TLS 1.3 finishes the client's side of the handshake before the server checks
                    // the client's certificate: the refusal is an alert on the first read.
                    assertEquals("CONNECTED TLSv1.3", python.nextReport(TIMEOUT));
                    assertEquals(null, python.qmp.readLine(TIMEOUT), "no greeting: the connection is closed");
                    // The alert, or, when the server's close overtakes it on a loaded machine, the end of the stream.
                    String end = python.nextReport(TIMEOUT);
                    assertTrue(end.startsWith("TLS-ERROR") || end.equals("EOF"), "refused: " + end);
                }
                int expected = ++refusals;
                Await.until("refusal " + expected + " logged", TIMEOUT,
                        () -> occurrences(guest.proxy.log(), "TLS handshake failed") == expected);
            }
            try (Socket plain = new Socket("127.0.0.1", port)) {
                plain.getOutputStream().write("{\"execute\": \"qmp_capabilities\"}\n".getBytes(StandardCharsets.UTF_8));
                String answer = readToEnd(plain);
                assertFalse(answer.contains("QMP"), "no greeting for a plain-text client: " + answer);
            }
            Await.until("plain text refused and logged", TIMEOUT, () -> guest.proxy.log().contains("not an SSL/TLS record"));
            long start = System.nanoTime();
            try (Socket stalled = new Socket("127.0.0.1", port)) {
                assertEquals("", readToEnd(stalled), "closed without a byte");
            }
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos(), "the handshake timeout closed it");
            Await.until("stalled handshake logged", TIMEOUT, () -> guest.proxy.log().contains("handshake timed out"));
            String log = guest.proxy.log();
            assertFalse(log.contains("listener " + LISTENER + ", role"), "no refused client became a session:\n" + log);
            assertEquals(RUNNING + "}", unix.execute("{\"execute\": \"query-status\"}", TIMEOUT));
        }
    }

    @Test
    void anOversizedMessageIsRefusedLoggedAndNeverReachesQemu() throws Exception {
        try (GuestFixture guest = guest("--max-message-bytes", "65536");
             QmpClient unix = guest.client();
             PythonTlsClient python = python(guest, "vm.qmpx.test", tls.admin)) {
            assertEquals("CONNECTED TLSv1.3", python.nextReport(TIMEOUT));
            python.qmp.readLine(TIMEOUT);
            QmpClient tls = QmpClient.negotiated(python.qmp, TIMEOUT);
            String huge = "{\"execute\": \"stop\", \"arguments\": {\"pad\": \"" + "x".repeat(100_000) + "\"}}";
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON token size limit exceeded\"}}",
                    tls.execute(huge, TIMEOUT));
            guest.proxy.awaitLog("input refused, JSON token size limit exceeded (127.0.0.1:", TIMEOUT);
            assertEquals(RUNNING + "}", unix.execute("{\"execute\": \"query-status\"}", TIMEOUT));
            assertTrue(unix.events().isEmpty(), "no STOP: " + unix.events());
        }
    }

    @Test
    void oneListenerServesSeveralGuestsEachNamedBySniIgnoringCase() throws Exception {
        List<QemuProcess> qemus = new ArrayList<>();
        try (WorkDir dir = new WorkDir()) {
            List<String> options = new ArrayList<>(List.of("--config", twoGuests(dir, qemus).toString()));
            options.addAll(tlsOptions());
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), options)) {
                int port = proxy.awaitPort(LISTENER);
                // DNS names compare without case, so SNI does too.
                for (String serverName : List.of("vm2.qmpx.test", "vm1.qmpx.test", "VM1.QMPX.TEST", "Vm2.Qmpx.Test")) {
                    try (PythonTlsClient python = PythonTlsClient.start(dir.path, port, serverName, tls.ca.cert(), tls.admin)) {
                        assertEquals("CONNECTED TLSv1.3", python.nextReport(TIMEOUT));
                        python.qmp.readLine(TIMEOUT);
                        QmpClient tls = QmpClient.negotiated(python.qmp, TIMEOUT);
                        assertEquals("{\"return\": {\"name\": \"" + serverName.substring(0, 3).toLowerCase() + "\"}}",
                                tls.execute("{\"execute\": \"query-name\"}", TIMEOUT));
                    }
                }
                try (PythonTlsClient python = PythonTlsClient.start(dir.path, port, "vm9.qmpx.test", tls.ca.cert(), tls.admin)) {
                    assertEquals("CONNECTED TLSv1.3", python.nextReport(TIMEOUT));
                    assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: no guest named 'vm9.qmpx.test' "
                            + "(guests: vm1, vm2)\"}}", python.qmp.readLine(TIMEOUT));
                    assertEquals(null, python.qmp.readLine(TIMEOUT));
                }
            } finally {
                qemus.forEach(QemuProcess::close);
            }
        }
    }

    /**
     * A certificate a rule limits to vm1 reaches vm1 and is refused vm2 however it names it: by SNI
     * (the name, a longer host name) on --listen-tls, by URL path on --listen-ws. The policy's
     * rules may name guests (issue 15, item 13); a client no rule matches has no role.
     */
    @Test
    void aCertificateLimitedToOneGuestCannotReachAnotherBySniOrPath() throws Exception {
        List<QemuProcess> qemus = new ArrayList<>();
        try (WorkDir dir = new WorkDir()) {
            Path policy = Files.writeString(dir.resolve("vm1-only.json"), "{\"rules\": [{\"guests\": [\"vm1\"], "
                    + "\"subject\": \"CN=admin,O=qmpx-test\", \"role\": \"admin\"}]}");
            List<String> options = new ArrayList<>(List.of("--config", twoGuests(dir, qemus).toString()));
            options.addAll(tlsOptions("--listen-ws", "127.0.0.1:0", "--policy", policy.toString()));
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), options)) {
                int port = proxy.awaitPort(LISTENER);
                try (QmpClient vm1 = QmpClient.negotiated(QmpClient.connect(withSni(port, "VM1"), TIMEOUT), TIMEOUT)) {
                    assertEquals("{\"return\": {\"name\": \"vm1\"}}", vm1.execute("{\"execute\": \"query-name\"}", TIMEOUT));
                }
                for (String serverName : List.of("vm2", "vm2.anything.example", "VM2.qmpx.test")) {
                    IOException refused = assertThrows(IOException.class, () -> QmpClient.connect(withSni(port, serverName), TIMEOUT));
                    assertTrue(refused.getMessage().contains("got: {\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: ")
                            && refused.getMessage().contains("has no role on guest 'vm2'"), serverName + ": " + refused.getMessage());
                }
                URI vm2 = URI.create("wss://127.0.0.1:" + proxy.awaitPort("ws:127.0.0.1:0") + "/qmp/vm2");
                ExecutionException notFound = assertThrows(ExecutionException.class,
                        () -> WsClient.open(vm2, tls.admin.clientContext(tls.ca), Map.of()));
                assertEquals(404, ((WebSocketHandshakeException) notFound.getCause()).getResponse().statusCode());
                assertFalse(java.util.regex.Pattern.compile("vm2: \\S+ connected \\([^)]*certificate").matcher(proxy.log()).find(),
                        "no network session on vm2:\n" + proxy.log());
            } finally {
                qemus.forEach(QemuProcess::close);
            }
        }
    }

    /**
     * A JDK TLS client with the admin certificate that sends this SNI name and, as an attacker
     * would, checks no host name.
     */
    private static SSLSocket withSni(int port, String serverName) throws Exception {
        SSLSocket socket = (SSLSocket) tls.admin.clientContext(tls.ca).getSocketFactory().createSocket("127.0.0.1", port);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(serverName)));
        socket.setSSLParameters(parameters);
        socket.setSoTimeout((int) TIMEOUT.toMillis());
        return socket;
    }

    /** A --config of two guests, vm1 and vm2, each on its own QEMU (added to qemus, for the caller to close). */
    private static Path twoGuests(WorkDir dir, List<QemuProcess> qemus) throws Exception {
        StringBuilder config = new StringBuilder("{\"guests\": [");
        for (String name : List.of("vm1", "vm2")) {
            QemuProcess qemu = QemuProcess.start(Files.createDirectories(dir.resolve(name)), List.of("-name", name));
            qemus.add(qemu);
            config.append(qemus.size() == 1 ? "" : ", ").append("{\"name\": \"").append(name).append("\", \"qemu\": \"")
                    .append(qemu.socket()).append("\", \"listen\": [\"").append(dir.resolve(name + ".sock")).append("\"]}");
        }
        return Files.writeString(dir.resolve("guests.json"), config.append("]}").toString());
    }

    private static String readToEnd(Socket socket) throws Exception {
        socket.setSoTimeout((int) TIMEOUT.toMillis());
        InputStream in = socket.getInputStream();
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    private static int occurrences(String text, String part) {
        return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }
}
