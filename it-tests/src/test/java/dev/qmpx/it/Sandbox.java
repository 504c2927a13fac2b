package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A sandboxed QEMU with two qcow2 disks added through the proxy. */
final class Sandbox implements AutoCloseable {
    static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    final WorkDir dir;
    /** The current broker: tests that kill it start another on the same state. */
    BrokerProcess broker;
    private final String[] brokerOptions;
    /** The current QEMU and a client of its own second monitor: tests that restart QEMU replace both. */
    QemuProcess qemu;
    QmpClient direct;
    private final Path qemuDir;
    final Path listen;
    final Path images;
    final Path overlays;
    /** The current proxy and a client of it: tests that kill the proxy start another. */
    ProxyProcess proxy;
    QmpClient client;
    private int proxies;

    Sandbox() throws Exception {
        this(new String[0]);
    }

    /** @param brokerOptions extra options of the broker, e.g. a lock manager */
    Sandbox(String... brokerOptions) throws Exception {
        this.brokerOptions = brokerOptions;
        dir = new WorkDir();
        Files.setPosixFilePermissions(dir.path, PosixFilePermissions.fromString("rwxr-xr-x"));
        qemuDir = Files.createDirectories(dir.resolve("q"));
        Files.setAttribute(qemuDir, "unix:uid", 65534);
        images = Files.createDirectories(dir.resolve("img"));
        Files.setPosixFilePermissions(images, PosixFilePermissions.fromString("rwx------"));
        overlays = Files.createDirectories(images.resolve("overlays"));
        broker = BrokerProcess.start(dir.path, brokerOptions);
        broker.admin("register", "guest", "vm1");
        qemu = startQemu();
        for (String disk : List.of("disk0", "disk1")) {
            Path image = images.resolve(disk + ".qcow2");
            assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "16M")
                    .inheritIO().start().waitFor());
            Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-------"));
            broker.allow("vm1", image, "rw", false, false, false);
        }
        broker.allow("vm1", overlays, "rw", true, true, false);
        listen = dir.resolve("p.sock");
        startProxy(Map.of());
        direct = QmpClient.negotiated(directSocket(), TIMEOUT);
        addDisks();
    }

    private QemuProcess startQemu() throws java.io.IOException {
        return QemuProcess.start(qemuDir, List.of("-qmp", "unix:" + directSocket() + ",server=on,wait=off"),
                List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
    }

    private Path directSocket() {
        return qemuDir.resolve("direct.sock");
    }

    /** Adds the two disks, on their images, through the current proxy. */
    void addDisks() throws java.io.IOException {
        for (String disk : List.of("disk0", "disk1")) {
            assertEquals("{\"return\": {}}", client.execute("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
                    + "\"qcow2\", \"node-name\": \"" + disk + "\", \"file\": {\"driver\": \"file\", \"filename\": \""
                    + images.resolve(disk + ".qcow2") + "\"}}}", TIMEOUT));
        }
    }

    /**
     * Starts a proxy (the earlier one must be gone) with a log of its own and connects the client.
     *
     * @param env extra environment, e.g. QMPX_JAVA_OPTIONS with a fault-injection property
     */
    void startProxy(Map<String, String> env) throws Exception {
        proxies++;
        proxy = ProxyProcess.start(dir.resolve("proxy" + (proxies == 1 ? "" : "-" + proxies) + ".log"), List.of("--qemu",
                qemu.socket().toString(), "--listen", listen.toString(), "--broker", broker.hook("vm1").toString(),
                "--state-dir", dir.resolve("state").toString()), null, env);
        client = QmpClient.negotiated(listen, TIMEOUT);
    }

    /**
     * Kills QEMU (SIGKILL) and starts a new one, with no disks, on the same monitor sockets, as a
     * host would after QEMU crashed. The proxy must be gone (a proxy that sees QEMU go exits).
     */
    void restartQemu() throws Exception {
        direct.close();
        qemu.kill();
        // QEMU leaves its socket files; a new QEMU binding them fresh shows when it listens.
        Files.deleteIfExists(qemu.socket());
        Files.deleteIfExists(directSocket());
        qemu = startQemu();
        Await.until("the new QEMU's second monitor listening", TIMEOUT, () -> {
            try {
                direct = QmpClient.negotiated(directSocket(), TIMEOUT);
                return true;
            } catch (java.io.IOException notYet) {
                return false;
            }
        });
    }

    /**
     * With the broker's {@code stalling} lock manager (see {@code plugin.StallingLockManager}): its
     * next request that takes a lease hangs in the middle until {@link #releaseBroker}.
     */
    void stallBroker() throws java.io.IOException {
        // The plug-in marks each stall; an earlier one's mark must not pass for this one.
        Files.deleteIfExists(lockspace().resolve("stalled"));
        Files.writeString(Files.createDirectories(lockspace()).resolve("stall"), "");
    }

    void awaitBrokerStalled() {
        Await.until("the broker stalled in a request", TIMEOUT, () -> Files.exists(lockspace().resolve("stalled")));
    }

    void releaseBroker() throws java.io.IOException {
        Files.delete(lockspace().resolve("stall"));
    }

    private Path lockspace() {
        return dir.resolve("state/lockspace");
    }

    /** Starts a broker on the same state directory (the earlier one must be gone). */
    void restartBroker() throws Exception {
        broker = BrokerProcess.start(dir.path, brokerOptions);
    }

    String execute(String command) throws Exception {
        return client.execute(command, Duration.ofSeconds(60));
    }

    String snapshot(String... nodeFilePairs) throws Exception {
        StringBuilder targets = new StringBuilder();
        for (int i = 0; i < nodeFilePairs.length; i += 2) {
            targets.append(i == 0 ? "" : ", ").append("{\"node\": \"").append(nodeFilePairs[i])
                    .append("\", \"file\": \"").append(nodeFilePairs[i + 1]).append("\"}");
        }
        return client.execute("{\"execute\": \"__dev.qmpx_snapshot\", \"arguments\": {\"targets\": [" + targets + "]}}",
                Duration.ofSeconds(60));
    }

    /** A query on QEMU's own second monitor, which shows what QEMU itself has. */
    String query(String command) {
        try {
            return direct.execute("{\"execute\": \"" + command + "\"}", TIMEOUT);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    String graph() {
        return query("query-named-block-nodes");
    }

    String fdsets() {
        return query("query-fdsets");
    }

    /** The base images' checksums: a snapshot, failed or undone, must leave them as they were. */
    Map<Path, String> baseChecksums() throws Exception {
        Map<Path, String> sums = new java.util.HashMap<>();
        for (String disk : List.of("disk0", "disk1")) {
            sums.put(images.resolve(disk + ".qcow2"), ImageFiles.sha256(images.resolve(disk + ".qcow2")));
        }
        return sums;
    }

    void assertBasesIntact() throws Exception {
        for (String disk : List.of("disk0", "disk1")) {
            ImageFiles.assertIntact(images.resolve(disk + ".qcow2"));
        }
    }

    /** QEMU's and the proxy's logs, for a failure message. */
    String diagnostics() {
        try {
            return "\n--- QEMU log:\n" + qemu.log() + "\n--- proxy log:\n" + proxy.log();
        } catch (java.io.IOException e) {
            return "\n(logs unreadable: " + e + ")";
        }
    }

    /** The node names in a query-named-block-nodes reply, sorted. */
    static List<String> nodeNames(String graph) {
        return java.util.regex.Pattern.compile("\"node-name\": \"([^\"]+)\"").matcher(graph).results()
                .map(r -> r.group(1)).sorted().toList();
    }

    @Override
    public void close() throws Exception {
        client.close();
        direct.close();
        proxy.close();
        qemu.close();
        broker.close();
        dir.close();
    }
}

