package dev.qmpx.it;

import dev.qmpx.client.QmpClient;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TLS client in Python with the standard ssl module only ({@code tls_relay.py}): Python makes
 * the TLS connection (certificate checks, SNI, the client certificate) and carries the session's
 * bytes; the test speaks QMP through it with a {@link QmpClient} on a local unix socket.
 */
final class PythonTlsClient implements AutoCloseable {
    private static final Path SCRIPT = ProxyProcess.HOME.resolve("it-tests/src/test/resources/tls_relay.py");

    final QmpClient qmp;
    private final Process process;
    private final BlockingQueue<String> reports;

    private PythonTlsClient(Process process, BlockingQueue<String> reports, QmpClient qmp) {
        this.process = process;
        this.reports = reports;
        this.qmp = qmp;
    }

    /**
     * Starts the client and its TLS handshake.
     *
     * @param client the certificate to present, or null for none
     */
    static PythonTlsClient start(Path dir, int port, String serverName, Path ca, TestPki.Issued client) throws IOException {
        Path socket = Files.createTempFile(dir, "py", ".sock");
        Files.delete(socket);
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", SCRIPT.toString(), socket.toString(),
                "127.0.0.1", String.valueOf(port), serverName, ca.toString()));
        if (client != null) {
            command.addAll(List.of(client.cert().toString(), client.key().toString()));
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        BlockingQueue<String> reports = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    reports.add(line);
                }
            } catch (IOException e) {
                reports.add("(python output unreadable: " + e + ")");
            }
        }, "python-tls-client");
        reader.setDaemon(true);
        reader.start();
        PythonTlsClient started = new PythonTlsClient(process, reports, null);
        String listening = started.nextReport(GuestFixture.TIMEOUT);
        if (!"LISTENING".equals(listening)) {
            started.close();
            throw new IOException("python TLS client did not start: " + listening);
        }
        return new PythonTlsClient(process, reports, QmpClient.open(socket));
    }

    /** The next line Python reported (CONNECTED, HANDSHAKE-FAILED, EOF, TLS-ERROR), or a timeout note. */
    String nextReport(Duration timeout) {
        try {
            String line = reports.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return line != null ? line : "(no report within " + timeout.toMillis() + " ms)";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    @Override
    public void close() throws IOException {
        if (qmp != null) {
            qmp.close();
        }
        process.destroy();
    }
}
