package dev.qmpx.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.broker.client.AdminClient;
import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * systemd socket activation (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) with systemd's own
 * {@code systemd-socket-activate} as the service manager: it binds the socket, waits for the first
 * connection and then execs the real {@code bin/qmpx} with the socket as fd 3, as systemd does for a
 * .socket unit. Both roles also log as JSON here ({@code --log-format json}).
 */
class SocketActivationIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final Path ACTIVATE = Path.of("/usr/bin/systemd-socket-activate");
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** What systemd-socket-activate itself prints into the same stderr. */
    private static final Pattern ACTIVATOR_LINE = Pattern.compile("^(Listening on|Communication attempt|Execing|Received SIG).*");

    @Test
    void aProxyStartedBySystemdServesThePassedSocketAndLogsJsonLines() throws Exception {
        assertTrue(Files.isExecutable(ACTIVATE), ACTIVATE + " is missing: bin/test installs Debian's systemd package");
        try (WorkDir dir = new WorkDir(); QemuProcess qemu = QemuProcess.start(dir.path, List.of())) {
            Path socket = dir.resolve("vm1.sock");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"),
                    List.of("--qemu", qemu.socket().toString(), "--log-format", "json"),
                    List.of(ACTIVATE.toString(), "--listen=" + socket, "--fdname=vm1"))) {
                Await.until("the activator listening", TIMEOUT, () -> Files.exists(socket));
                // The first connection is what makes the activator start the proxy on the socket.
                try (QmpClient client = QmpClient.negotiated(socket, TIMEOUT)) {
                    assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}",
                            client.execute("{\"execute\": \"query-status\"}", TIMEOUT));
                }
                proxy.awaitLog("accepting clients on fd 3", TIMEOUT);
                assertJsonLog(proxy.log(), "accepting clients on fd 3");
                proxy.close();
                assertTrue(Files.exists(socket), "the socket systemd passed is systemd's to remove");
            }
        }
    }

    @Test
    void aBrokerStartedBySystemdServesThePassedAdminSocketAndLeavesItToSystemd() throws Exception {
        assertTrue(Files.isExecutable(ACTIVATE), ACTIVATE + " is missing: bin/test installs Debian's systemd package");
        try (WorkDir dir = new WorkDir()) {
            Path admin = dir.resolve("admin.sock");
            Path log = dir.resolve("broker.log");
            Process broker = new ProcessBuilder(ACTIVATE.toString(), "--listen=" + admin, "--fdname=admin",
                    ProxyProcess.HOME.resolve("bin/qmpx").toString(), "broker", "--state", dir.resolve("state").toString(),
                    "--hook-dir", dir.resolve("hooks").toString(), "--log-format", "json")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                Await.until("the activator listening", TIMEOUT, () -> Files.exists(admin));
                JsonNode registered = AdminClient.call(admin, AdminClient.request("register").put("guest", "vm1"));
                assertTrue(registered.has("return"), registered.toString());
                assertTrue(Files.exists(dir.resolve("hooks/vm1.sock")));
                broker.destroy();
                assertTrue(broker.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "broker stops on SIGTERM");
                assertEquals(0, broker.exitValue(), Files.readString(log));
                assertTrue(Files.exists(admin), "the socket systemd passed is systemd's to remove");
                assertJsonLog(Files.readString(log), "broker serving: admin socket from systemd");
            } finally {
                broker.destroyForcibly();
            }
        }
    }

    @Test
    void theShippedUnitsAreValidForSystemd() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            List<String> command = new java.util.ArrayList<>(List.of("systemd-analyze", "verify", "--man=no"));
            try (var units = Files.list(ProxyProcess.HOME.resolve("dist/systemd"))) {
                for (Path unit : units.sorted().toList()) {
                    // Installed under /opt/qmpx; here the checkout stands in, so ExecStart names a real file.
                    Files.writeString(dir.resolve(unit.getFileName().toString()),
                            Files.readString(unit).replace("/opt/qmpx", ProxyProcess.HOME.toString()));
                    String name = unit.getFileName().toString();
                    command.add(dir.resolve(name.replace("@.", "@vm1.")).toString());
                }
            }
            Process verify = new ProcessBuilder(command).directory(dir.path.toFile()).redirectErrorStream(true).start();
            String output = new String(verify.getInputStream().readAllBytes());
            assertTrue(verify.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
            assertEquals(0, verify.exitValue(), output);
            assertEquals("", output.strip());
        }
    }

    /** Every line is a JSON log record or the activator's own; one record's message contains expected. */
    private static void assertJsonLog(String log, String expected) throws IOException {
        boolean found = false;
        for (String line : log.lines().toList()) {
            if (ACTIVATOR_LINE.matcher(line).matches()) {
                continue;
            }
            JsonNode record = MAPPER.readTree(line);
            for (String member : List.of("time", "level", "logger", "thread", "message")) {
                assertTrue(record.path(member).isTextual(), member + " in " + line);
            }
            found |= record.path("message").asText().contains(expected);
        }
        assertTrue(found, "a JSON record with '" + expected + "' in:\n" + log);
    }
}
