package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Roles are allowlists (issue 15): what a readonly client could do to QEMU by a command that passed
 * as a "query", what a policy without a default gave away, typed certificate names, guest scopes.
 */
class RolesIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String RUNNING = "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}";
    /** Type names QEMU 7.2 aborts or segfaults on when asked for their properties. */
    private static final List<String> CRASHING_TYPES = List.of("colo-compare", "microvm-machine", "x-remote-object",
            "qio-net-listener", "virtio-vga-gl", "virtio-gpu-gl-pci");

    /** A guest whose proxy serves admin on guest.listen and a built-in role on a second socket, with an audit file. */
    record Split(WorkDir files, GuestFixture guest, Path second, Path audit) implements AutoCloseable {
        static Split start(String role, String... more) throws Exception {
            WorkDir files = new WorkDir();
            Path second = files.resolve(role + ".sock");
            Path audit = files.resolve("audit.jsonl");
            Path policy = Files.writeString(files.resolve("policy.json"), "{\"rules\": [{\"listener\": \"" + second
                    + "\", \"role\": \"" + role + "\"}], \"default\": \"admin\"}");
            List<String> options = new java.util.ArrayList<>(List.of("--listen", second.toString(), "--policy",
                    policy.toString(), "--audit", audit.toString()));
            options.addAll(List.of(more));
            return new Split(files, GuestFixture.start(options.toArray(String[]::new)), second, audit);
        }

        /** A negotiated client on the second socket. */
        QmpClient secondClient() throws IOException {
            return QmpClient.negotiated(second, TIMEOUT);
        }

        @Override
        public void close() throws Exception {
            try {
                guest.close();
            } finally {
                files.close();
            }
        }
    }

    static String refusal(Object id, String role, String command, String why) {
        return "{\"id\": " + id + ", \"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the role '" + role
                + "' does not allow '" + command + "'" + (why.isEmpty() ? "" : " " + why) + "\"}}";
    }

    @Test
    void aReadonlyClientCannotAskForThePropertiesOfTypesThatCrashQemu() throws Exception {
        try (Split split = Split.start("readonly"); QmpClient readonly = split.secondClient(); QmpClient admin = split.guest.client()) {
            int id = 0;
            for (String type : CRASHING_TYPES) {
                for (String command : List.of("qom-list-properties", "device-list-properties")) {
                    id++;
                    assertEquals(refusal(id, "readonly", command, ""), readonly.execute("{\"execute\": \"" + command
                            + "\", \"arguments\": {\"typename\": \"" + type + "\"}, \"id\": " + id + "}", TIMEOUT), type);
                }
            }
            assertTrue(split.guest.qemu.isAlive(), "QEMU lives");
            assertEquals(RUNNING, admin.execute("{\"execute\": \"query-status\"}", TIMEOUT));
            Await.until("the refusals audited", TIMEOUT, () -> read(split.audit).lines()
                    .filter(line -> line.contains("list-properties\",\"result\":\"denied\"")).count() == 2L * CRASHING_TYPES.size());
        }
    }

    @Test
    void aReadonlyClientCannotReadASecretObjectByAnyPathSpelling() throws Exception {
        try (Split split = Split.start("readonly"); QmpClient readonly = split.secondClient(); QmpClient admin = split.guest.client();
             QmpClient direct = split.guest.directClient()) {
            assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                    + "\"secret\", \"id\": \"sec0\", \"data\": \"hunter2\"}}", TIMEOUT));
            // Absolute, partial (QEMU searches the whole tree for a unique match), empty components, a trailing slash.
            int id = 0;
            for (String path : List.of("/objects/sec0", "sec0", "objects/sec0", "//objects//sec0", "/objects/sec0/",
                    "/objects/s\\u0065c0")) {
                for (String property : List.of("data", "type", "keyid")) {
                    id++;
                    String reply = readonly.execute("{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"" + path
                            + "\", \"property\": \"" + property + "\"}, \"id\": " + id + "}", TIMEOUT);
                    assertEquals(refusal(id, "readonly", "qom-get", "on an object of type 'secret'"), reply, path);
                }
            }
            // Without an id too, and pipelined behind other commands.
            readonly.send("{\"execute\": \"query-name\"}{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"sec0\", "
                    + "\"property\": \"data\"}}{\"execute\": \"query-name\"}");
            assertEquals("{\"return\": {}}", readonly.nextReply(TIMEOUT));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: the role 'readonly' does not allow "
                    + "'qom-get' on an object of type 'secret'\"}}", readonly.nextReply(TIMEOUT));
            assertEquals("{\"return\": {}}", readonly.nextReply(TIMEOUT));
            // Other objects stay readable, and a path naming nothing fails as it does on QEMU's own monitor.
            String missing = "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/../objects/sec0\", "
                    + "\"property\": \"data\"}, \"id\": \"m\"}";
            assertEquals(direct.execute(missing, TIMEOUT), readonly.execute(missing, TIMEOUT));
            assertEquals("{\"return\": \"none-machine\", \"id\": 7}", readonly.execute("{\"execute\": \"qom-get\", "
                    + "\"arguments\": {\"path\": \"/machine\", \"property\": \"type\"}, \"id\": 7}", TIMEOUT));
            assertEquals("{\"return\": \"hunter2\"}", admin.execute("{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
                    + "\"sec0\", \"property\": \"data\"}}", TIMEOUT), "admin may");
            assertTrue(read(split.audit).contains("\"command\":\"qom-get\",\"result\":\"denied\""), read(split.audit));
        }
    }

    /**
     * MEDIUM 4: QEMU unlinks a unix path before it listens there, so an operator that started an
     * NBD server on {@code /tmp/x/important.txt} deleted the file; and an operator named an admin's
     * secret object in a node's options, for QEMU to send its data to the operator's server.
     */
    @Test
    void anOperatorCannotMakeQemuListenOnAUnixPathNorNameASecret() throws Exception {
        try (Split split = Split.start("operator"); QmpClient operator = split.secondClient(); QmpClient admin = split.guest.client()) {
            Path important = Files.writeString(split.files.resolve("important.txt"), "keep me");
            String path = important.toString();
            assertEquals(refusal(1, "operator", "nbd-server-start", "with 'addr' of type 'unix' (allowed types: inet, vsock)"),
                    operator.execute("{\"execute\": \"nbd-server-start\", \"arguments\": {\"addr\": {\"type\": \"unix\","
                            + " \"data\": {\"path\": \"" + path + "\"}}}, \"id\": 1}", TIMEOUT));
            operator.execute("{\"execute\": \"nbd-server-stop\"}", TIMEOUT);
            assertEquals(refusal(2, "operator", "migrate-incoming", "with 'uri' 'unix:" + path
                    + "' (allowed schemes: tcp: vsock: rdma:)"), operator.execute("{\"execute\": \"migrate-incoming\","
                    + " \"arguments\": {\"uri\": \"unix:" + path + "\"}, \"id\": 2}", TIMEOUT));
            assertEquals(refusal(3, "operator", "block-export-add", "with 'type' 'vhost-user-blk' (allowed: nbd)"),
                    operator.execute("{\"execute\": \"block-export-add\", \"arguments\": {\"type\": \"vhost-user-blk\","
                            + " \"id\": \"e\", \"node-name\": \"d\", \"addr\": {\"type\": \"unix\", \"path\": \""
                            + path + "\"}}, \"id\": 3}", TIMEOUT));
            assertEquals("keep me", Files.readString(important), "the file survives");

            assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                    + "\"secret\", \"id\": \"sec0\", \"data\": \"hunter2\"}}", TIMEOUT));
            assertEquals(refusal(4, "operator", "blockdev-add", "with 'file.password-secret' (a secret object: only a role"
                    + " granted the command by name may name one)"), operator.execute("{\"execute\": \"blockdev-add\","
                    + " \"arguments\": {\"driver\": \"raw\", \"node-name\": \"n\", \"file\": {\"driver\": \"http\","
                    + " \"url\": \"http://127.0.0.1:9/x\", \"username\": \"u\", \"password-secret\": \"sec0\"}},"
                    + " \"id\": 4}", TIMEOUT));
            // What stays allowed: listening on TCP, and its own NBD server's export.
            assertEquals("{\"return\": {}, \"id\": 5}", operator.execute("{\"execute\": \"nbd-server-start\","
                    + " \"arguments\": {\"addr\": {\"type\": \"inet\", \"data\": {\"host\": \"127.0.0.1\","
                    + " \"port\": \"0\"}}}, \"id\": 5}", TIMEOUT));
            assertEquals("{\"return\": {}}", operator.execute("{\"execute\": \"nbd-server-stop\"}", TIMEOUT));
            Await.until("the refusals audited", TIMEOUT, () -> read(split.audit).lines()
                    .filter(line -> line.contains("\"result\":\"denied\"")).count() == 4);
        }
    }

    @Test
    void aReadonlyBearerTokenOverWebSocketGetsTheSameRefusals() throws Exception {
        TlsMaterial tls = TlsMaterial.shared();
        try (GuestFixture guest = GuestFixture.start(tls.options("--listen-ws", "--tls-client-auth", "optional")
                .toArray(String[]::new)); QmpClient admin = guest.client();
             WsClient ws = WsClient.open(java.net.URI.create("wss://127.0.0.1:" + guest.proxy.awaitPort("ws:127.0.0.1:0") + "/qmp"),
                     tls.ca.anonymousClientContext(), java.util.Map.of("Authorization", "Bearer " + TlsMaterial.READONLY_TOKEN))) {
            ws.next(TIMEOUT);
            assertEquals("{\"return\": {}}", ws.execute("{\"execute\": \"qmp_capabilities\"}", TIMEOUT));
            assertEquals("{\"return\": {}}", admin.execute("{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                    + "\"secret\", \"id\": \"sec0\", \"data\": \"hunter2\"}}", TIMEOUT));
            assertEquals(refusal(1, "readonly", "qom-list-properties", ""), ws.execute("{\"execute\": \"qom-list-properties\", "
                    + "\"arguments\": {\"typename\": \"colo-compare\"}, \"id\": 1}", TIMEOUT));
            assertEquals(refusal(2, "readonly", "qom-get", "on an object of type 'secret'"), ws.execute("{\"execute\": "
                    + "\"qom-get\", \"arguments\": {\"path\": \"sec0\", \"property\": \"data\"}, \"id\": 2}", TIMEOUT));
            assertTrue(guest.qemu.isAlive());
            assertEquals(RUNNING, admin.execute("{\"execute\": \"query-status\"}", TIMEOUT));
        }
    }

    @Test
    void aPolicyWithoutADefaultRefusesClientsNoRuleMatchesAndSaysSoAtStartUp() throws Exception {
        try (WorkDir files = new WorkDir()) {
            Path named = files.resolve("named.sock");
            Path policy = Files.writeString(files.resolve("policy.json"), "{\"rules\": [{\"listener\": \"" + named
                    + "\", \"role\": \"operator\"}]}");
            try (GuestFixture guest = GuestFixture.start("--listen", named.toString(), "--policy", policy.toString(),
                    "--audit", files.resolve("audit.jsonl").toString());
                 QmpClient unmatched = QmpClient.open(guest.listen)) {
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmpx: no role for this client: no "
                        + "policy rule matches it and the policy has no default\"}}", unmatched.readLine(TIMEOUT),
                        "an error line instead of the greeting");
                assertEquals(null, unmatched.readLine(TIMEOUT), "then the proxy closes the connection");
                guest.proxy.awaitLog("no \"default\": clients no rule matches get no role and are refused when they connect",
                        TIMEOUT);
                guest.proxy.awaitLog("refused: no policy rule gives it a role", TIMEOUT);
                Await.until("the refusal audited", TIMEOUT, () -> read(files.resolve("audit.jsonl"))
                        .contains("\"command\":\"(connect)\",\"result\":\"no-role\""));
                try (QmpClient operator = QmpClient.negotiated(named, TIMEOUT)) {
                    assertEquals(RUNNING, operator.execute("{\"execute\": \"query-status\"}", TIMEOUT), "a matched client is served");
                }
            }
        }
    }

    @Test
    void withoutAPolicyEveryClientIsStillAdmin() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient client = guest.client()) {
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"stop\"}", TIMEOUT));
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"cont\"}", TIMEOUT));
            guest.proxy.awaitLog("no --policy: every client is admin", TIMEOUT);
        }
    }

    @Test
    void aRuleNamingAGuestGivesItsRoleOnThatGuestOnly() throws Exception {
        try (WorkDir dir = new WorkDir(); WorkDir vm1 = new WorkDir(); WorkDir vm2 = new WorkDir();
             QemuProcess qemu1 = QemuProcess.start(vm1.path, List.of()); QemuProcess qemu2 = QemuProcess.start(vm2.path, List.of())) {
            Path config = Files.writeString(dir.resolve("guests.json"), "{\"guests\": ["
                    + "{\"name\": \"vm1\", \"qemu\": \"" + qemu1.socket() + "\", \"listen\": [\"" + dir.resolve("vm1.sock") + "\"]},"
                    + "{\"name\": \"vm2\", \"qemu\": \"" + qemu2.socket() + "\", \"listen\": [\"" + dir.resolve("vm2.sock") + "\"]}]}");
            long uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            Path policy = Files.writeString(dir.resolve("policy.json"), "{\"rules\": [{\"uid\": " + uid
                    + ", \"guests\": [\"VM1\"], \"role\": \"admin\"}], \"default\": \"readonly\"}");
            try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--config", config.toString(),
                    "--policy", policy.toString()))) {
                Await.until("both guests' listeners accepting", TIMEOUT,
                        () -> proxy.log().split("accepting clients on", -1).length - 1 == 2);
                try (QmpClient one = QmpClient.negotiated(dir.resolve("vm1.sock"), TIMEOUT);
                     QmpClient two = QmpClient.negotiated(dir.resolve("vm2.sock"), TIMEOUT)) {
                    assertEquals("{\"return\": {}, \"id\": 1}", one.execute("{\"execute\": \"stop\", \"id\": 1}", TIMEOUT),
                            "the rule names VM1, which is vm1");
                    assertEquals(refusal(2, "readonly", "stop", ""), two.execute("{\"execute\": \"stop\", \"id\": 2}", TIMEOUT),
                            "the same client on vm2 gets the default");
                    assertTrue(proxy.log().contains("role readonly"), proxy.log());
                }
            }
        }
    }

    @Test
    void aCertificateWhoseEmailNameReadsLikeTheAdminsDnsNameIsNotAdmin() throws Exception {
        TlsMaterial tls = TlsMaterial.shared();
        try (GuestFixture guest = GuestFixture.start(tls.options("--listen-tls").toArray(String[]::new));
             PythonTlsClient admin = PythonTlsClient.start(guest.dir.path, guest.proxy.awaitPort("tls:127.0.0.1:0"),
                     "vm.qmpx.test", tls.ca.cert(), tls.admin);
             PythonTlsClient email = PythonTlsClient.start(guest.dir.path, guest.proxy.awaitPort("tls:127.0.0.1:0"),
                     "vm.qmpx.test", tls.ca.cert(), tls.emailNamedLikeAdmin)) {
            assertEquals("CONNECTED TLSv1.3", email.nextReport(TIMEOUT));
            email.qmp.readLine(TIMEOUT);
            QmpClient byEmail = QmpClient.negotiated(email.qmp, TIMEOUT);
            assertEquals(refusal(1, "nobody", "stop", ""), byEmail.execute("{\"execute\": \"stop\", \"id\": 1}", TIMEOUT),
                    "email:admin.qmpx.test is not dns:admin.qmpx.test");
            assertEquals("CONNECTED TLSv1.3", admin.nextReport(TIMEOUT));
            admin.qmp.readLine(TIMEOUT);
            QmpClient byDns = QmpClient.negotiated(admin.qmp, TIMEOUT);
            assertEquals("{\"return\": {}, \"id\": 2}", byDns.execute("{\"execute\": \"stop\", \"id\": 2}", TIMEOUT));
            assertEquals("{\"return\": {}}", byDns.execute("{\"execute\": \"cont\"}", TIMEOUT));
        }
    }

    static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
