package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import dev.qmpx.proxy.demo.QemuProcess;

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --metrics: the Prometheus text endpoint counts what clients and QEMU did, scraped over real HTTP. */
class MetricsIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final Pattern ENDPOINT = Pattern.compile("metrics at (http://\\S+/metrics)");

    @Test
    void commandsEventsClientsAndFdsAreCountedPerGuest() throws Exception {
        try (GuestFixture guest = GuestFixture.start("--guest", "vm1", "--metrics", "127.0.0.1:0");
             QmpClient client = guest.client()) {
            guest.proxy.awaitLog("metrics at http://", TIMEOUT);
            Matcher endpoint = ENDPOINT.matcher(guest.proxy.log());
            assertTrue(endpoint.find(), guest.proxy.log());
            URI uri = URI.create(endpoint.group(1));

            for (int i = 0; i < 3; i++) {
                client.execute("{\"execute\": \"query-status\"}", TIMEOUT);
            }
            client.execute("{\"execute\": \"no-such-command\", \"id\": 1}", TIMEOUT);
            client.execute("{\"execute\": \"stop\"}", TIMEOUT);
            client.execute("{\"execute\": \"cont\"}", TIMEOUT);
            try (FileInputStream passed = new FileInputStream("/dev/null")) {
                client.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"m\"}}", passed.getFD());
                assertEquals("{\"return\": {}}", client.nextReply(TIMEOUT));
            }

            // A modify command waiting for the job another client holds is a job wait.
            try (QmpClient holder = guest.client()) {
                holder.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT);
                client.send("{\"execute\": \"system_reset\"}");
                Await.until("system_reset waiting for the job", TIMEOUT, () -> clientsReport(holder).matches("(?s).*\"waiting-for-job\": ?true.*"));
                holder.execute("{\"execute\": \"__dev.qmpx_job-end\"}", TIMEOUT);
                assertEquals("{\"return\": {}}", client.nextReply(TIMEOUT));
            }

            String text = scrape(uri);
            assertEquals(1.0, value(text, "qmpx_job_wait_seconds_count{guest=\"vm1\"}"), text);
            assertEquals(3.0, value(text, "qmpx_commands_total{command=\"query-status\",guest=\"vm1\",result=\"return\"}"), text);
            // Unknown names share one label value, so clients cannot grow the series without bound.
            assertEquals(1.0, value(text, "qmpx_commands_total{command=\"other\",guest=\"vm1\",result=\"CommandNotFound\"}"), text);
            assertEquals(3.0, value(text, "qmpx_command_duration_seconds_count{command=\"query-status\",guest=\"vm1\"}"), text);
            assertEquals(1.0, value(text, "qmpx_events_total{event=\"STOP\",guest=\"vm1\"}"), text);
            assertEquals(1.0, value(text, "qmpx_events_total{event=\"RESUME\",guest=\"vm1\"}"), text);
            assertEquals(1.0, value(text, "qmpx_clients{guest=\"vm1\"}"), text);
            assertEquals(2.0, value(text, "qmpx_client_connections_total{guest=\"vm1\"}"), text);
            assertEquals(1.0, value(text, "qmpx_upstream_ready{guest=\"vm1\"}"), text);
            assertEquals(1.0, value(text, "qmpx_client_fds_received_total{guest=\"vm1\"}"), text);
            assertEquals(1.0, value(text, "qmpx_fds_passed_total{guest=\"vm1\",source=\"client\"}"), text);
            assertTrue(text.contains("pid=\"" + ProcessHandle.current().pid() + "\""), "a per-client series names its pid");
            assertTrue(value(text, "qmpx_process_open_fds") > 0, text);
        }
    }

    @Test
    void brokerRequestsAreCountedByResult() throws Exception {
        try (WorkDir dir = new WorkDir();
             QemuProcess qemu = QemuProcess.start(dir.path, List.of());
             BrokerProcess broker = BrokerProcess.start(dir.path)) {
            assertTrue(broker.admin("register", "guest", "vm1").has("return"));
            Path allowed = dir.resolve("allowed.raw");
            Path other = dir.resolve("other.raw");
            Files.write(allowed, new byte[1 << 20]);
            Files.write(other, new byte[1 << 20]);
            assertTrue(broker.allow("vm1", allowed, "rw", false, false, false).has("return"));
            Path listen = dir.resolve("p.sock");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--qemu", qemu.socket().toString(),
                    "--listen", listen.toString(), "--guest", "vm1", "--broker", broker.hook("vm1").toString(),
                    "--metrics", "127.0.0.1:0"));
                 QmpClient client = QmpClient.negotiated(listen, TIMEOUT)) {
                assertEquals("{\"return\": {}}", client.execute(blockdevAdd("a", allowed), TIMEOUT));
                String refused = client.execute(blockdevAdd("b", other), TIMEOUT);
                assertTrue(refused.contains("qmpx broker refused"), refused);
                proxy.awaitLog("metrics at http://", TIMEOUT);
                Matcher endpoint = ENDPOINT.matcher(proxy.log());
                assertTrue(endpoint.find());
                String text = scrape(URI.create(endpoint.group(1)));
                assertEquals(1.0, value(text, "qmpx_broker_requests_total{guest=\"vm1\",request=\"open\",result=\"granted\"}"), text);
                assertEquals(1.0, value(text, "qmpx_broker_requests_total{guest=\"vm1\",request=\"open\",result=\"PermissionDenied\"}"), text);
                assertEquals(2.0, value(text, "qmpx_broker_request_duration_seconds_count{guest=\"vm1\"}"), text);
                assertEquals(1.0, value(text, "qmpx_fds_passed_total{guest=\"vm1\",source=\"broker\"}"), text);
            }
        }
    }

    private static String blockdevAdd(String node, Path file) {
        return "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"" + node
                + "\", \"filename\": \"" + file + "\"}}";
    }

    private static String clientsReport(QmpClient client) {
        try {
            return client.execute("{\"execute\": \"__dev.qmpx_clients\"}", TIMEOUT);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String scrape(URI uri) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri).timeout(TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
            assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            return response.body();
        }
    }

    /** The sample's value; fails when the exposition has no such series. */
    private static double value(String exposition, String series) {
        for (String line : exposition.lines().toList()) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).strip());
            }
        }
        throw new AssertionError("no series " + series + " in:\n" + exposition);
    }
}
