package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code qmpx proxy --config}: many guests in one process, each isolated from the others' faults. */
class MultiGuestIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final int GUESTS = 20;
    private static final int CLIENTS = 5;
    private static final int VICTIM = 7;

    @Test
    void twentyGuestsWithFiveClientsEachAndOneQemuKilledLeavesTheOtherNineteenUntouched() throws Exception {
        List<QemuProcess> qemus = new ArrayList<>();
        List<List<QmpClient>> clients = new ArrayList<>();
        try (WorkDir dir = new WorkDir()) {
            StringBuilder config = new StringBuilder("{\"guests\": [");
            for (int i = 0; i < GUESTS; i++) {
                qemus.add(QemuProcess.start(Files.createDirectories(dir.resolve("q" + i)), List.of()));
                config.append(i == 0 ? "" : ", ").append("{\"name\": \"vm").append(i).append("\", \"qemu\": \"")
                        .append(qemus.get(i).socket()).append("\", \"listen\": [\"").append(dir.resolve("p" + i + ".sock")).append("\"]}");
            }
            Path configFile = Files.writeString(dir.resolve("guests.json"), config.append("]}").toString());
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--config", configFile.toString()))) {
                Await.until("every guest's listener accepting", TIMEOUT,
                        () -> proxy.log().split("accepting clients on", -1).length - 1 == GUESTS);
                for (int i = 0; i < GUESTS; i++) {
                    List<QmpClient> own = new ArrayList<>();
                    for (int c = 0; c < CLIENTS; c++) {
                        own.add(QmpClient.negotiated(dir.resolve("p" + i + ".sock"), TIMEOUT));
                    }
                    clients.add(own);
                }
                qemus.get(VICTIM).kill();
                for (QmpClient victimClient : clients.get(VICTIM)) {
                    String line = victimClient.readLine(TIMEOUT);
                    assertTrue(line == null || line.contains("QEMU"), "the dead guest's clients are told: " + line);
                }
                for (int i = 0; i < GUESTS; i++) {
                    if (i == VICTIM) {
                        continue;
                    }
                    for (int c = 0; c < CLIENTS; c++) {
                        String id = "\"g" + i + "c" + c + "\"";
                        assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": " + id + "}",
                                clients.get(i).get(c).execute("{\"execute\": \"query-status\", \"id\": " + id + "}", TIMEOUT));
                    }
                }
                assertTrue(proxy.process.isAlive(), "the process serving the others lives on");
                // The victim's QEMU comes back on its socket: its guest is served again.
                qemus.set(VICTIM, QemuProcess.start(dir.resolve("q" + VICTIM), List.of()));
                try (QmpClient again = QmpClient.negotiated(dir.resolve("p" + VICTIM + ".sock"), TIMEOUT)) {
                    assertTrue(again.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
                }
            } finally {
                for (List<QmpClient> own : clients) {
                    for (QmpClient client : own) {
                        client.close();
                    }
                }
                qemus.forEach(QemuProcess::close);
            }
        }
    }

    @Test
    void aConfigThatNamesAGuestTwiceIsRefusedWithTheEntry() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Path configFile = Files.writeString(dir.resolve("bad.json"), "{\"guests\": [{\"name\": \"a\", \"qemu\": \"/x.sock\", "
                    + "\"listen\": [\"" + dir.resolve("a.sock") + "\"]}, {\"name\": \"a\", \"qemu\": \"/y.sock\", \"listen\": [\""
                    + dir.resolve("b.sock") + "\"]}]}");
            Process process = new ProcessBuilder(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "proxy", "--config",
                    configFile.toString()).redirectErrorStream(true).start();
            String out = new String(process.getInputStream().readAllBytes());
            assertEquals(2, process.waitFor(), out);
            assertTrue(out.contains("guests[1]: the name 'a' is used twice"), out);
        }
    }
}
