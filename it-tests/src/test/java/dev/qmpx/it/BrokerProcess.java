package dev.qmpx.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.client.AdminClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real {@code bin/qmpx broker} as its own process, with state, hook sockets and admin in a work dir. */
final class BrokerProcess implements AutoCloseable {
    final Process process;
    final Path state;
    final Path hooks;
    final Path admin;
    final Path log;

    private BrokerProcess(Process process, Path dir, Path log) {
        this.process = process;
        this.state = dir.resolve("state");
        this.hooks = dir.resolve("hooks");
        this.admin = dir.resolve("admin.sock");
        this.log = log;
    }

    /** Starts the broker and waits until it serves (or exits). */
    static BrokerProcess start(Path dir, String... options) throws IOException {
        Path log = dir.resolve("broker-" + System.nanoTime() + ".log");
        List<String> command = new ArrayList<>(List.of(ProxyProcess.HOME.resolve("bin/qmpx").toString(), "broker",
                "--state", dir.resolve("state").toString(), "--hook-dir", dir.resolve("hooks").toString(),
                "--admin", dir.resolve("admin.sock").toString()));
        command.addAll(List.of(options));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        // Third-party lock-manager plug-ins (the test's own) come in through QMPX_CLASSPATH.
        builder.environment().put("QMPX_CLASSPATH", Path.of("target/test-classes").toAbsolutePath().toString());
        BrokerProcess broker = new BrokerProcess(builder.start(), dir, log);
        Await.until("broker serving", Duration.ofSeconds(30),
                () -> !broker.process.isAlive() || broker.log().contains("broker serving"));
        return broker;
    }

    String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    String audit() throws IOException {
        Path audit = state.resolve("audit.log");
        return Files.exists(audit) ? Files.readString(audit) : "";
    }

    Path hook(String guest) {
        return hooks.resolve(guest + ".sock");
    }

    JsonNode admin(String op, String... keyValues) throws IOException {
        ObjectNode request = AdminClient.request(op);
        for (int i = 0; i < keyValues.length; i += 2) {
            request.put(keyValues[i], keyValues[i + 1]);
        }
        return AdminClient.call(admin, request);
    }

    JsonNode allow(String guest, Path path, String access, boolean create, boolean prefix, boolean special) throws IOException {
        ObjectNode request = AdminClient.request("allow").put("guest", guest).put("path", path.toString())
                .put("access", access).put("create", create).put("prefix", prefix).put("special", special);
        return AdminClient.call(admin, request);
    }

    /** SIGKILL: a crash. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            kill();
        }
    }
}
