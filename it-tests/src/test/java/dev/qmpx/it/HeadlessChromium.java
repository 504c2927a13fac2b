package dev.qmpx.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import javax.net.ssl.SSLContext;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's {@code chromium}, headless, driven over the DevTools protocol with the JDK's WebSocket
 * client: it opens a page, evaluates expressions in it, and takes screenshots. It accepts the test
 * CA's server certificate with {@code --ignore-certificate-errors} (the CA is not in its store).
 * A missing chromium fails the test: bin/test installs it.
 */
final class HeadlessChromium implements AutoCloseable {
    private static final Path BINARY = Path.of("/usr/bin/chromium");
    private static final Pattern DEVTOOLS = Pattern.compile("DevTools listening on ws://127\\.0\\.0\\.1:(\\d+)/");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Process process;
    private final WsClient page;
    private int lastId;

    private HeadlessChromium(Process process, WsClient page) {
        this.process = process;
        this.page = page;
    }

    static HeadlessChromium open(Path profile, String url) throws Exception {
        if (!Files.isExecutable(BINARY)) {
            throw new AssertionError(BINARY + " is missing: apt-get install --no-install-recommends chromium (bin/test installs it)");
        }
        Process process = new ProcessBuilder(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--ignore-certificate-errors", "--remote-debugging-port=0", "--user-data-dir=" + profile,
                "--window-size=1100,700", url).redirectErrorStream(true).start();
        CompletableFuture<Integer> devtoolsPort = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    Matcher found = DEVTOOLS.matcher(line);
                    if (found.find()) {
                        devtoolsPort.complete(Integer.parseInt(found.group(1)));
                    }
                }
            } catch (IOException e) {
                devtoolsPort.completeExceptionally(e);
            }
            devtoolsPort.completeExceptionally(new IOException("chromium exited before its DevTools endpoint was up"));
        }, "chromium-output");
        reader.setDaemon(true);
        reader.start();
        try {
            int port = devtoolsPort.get(GuestFixture.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            HttpResponse<String> targets = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/json/list")).build(), HttpResponse.BodyHandlers.ofString());
            String pageSocket = null;
            for (JsonNode target : MAPPER.readTree(targets.body())) {
                if (target.path("type").asText().equals("page")) {
                    pageSocket = target.path("webSocketDebuggerUrl").asText();
                }
            }
            if (pageSocket == null) {
                throw new AssertionError("chromium has no page target: " + targets.body());
            }
            return new HeadlessChromium(process, WsClient.open(URI.create(pageSocket), SSLContext.getDefault(), Map.of()));
        } catch (Exception | AssertionError e) {
            destroy(process);
            throw e;
        }
    }

    /** Calls a DevTools method on the page and returns its result. */
    JsonNode call(String method, ObjectNode params) throws Exception {
        int id = ++lastId;
        page.send(MAPPER.createObjectNode().put("id", id).put("method", method).set("params", params).toString());
        while (true) {
            JsonNode message = MAPPER.readTree(page.next(GuestFixture.TIMEOUT));
            if (message.path("id").asInt() == id) {
                if (message.has("error")) {
                    throw new AssertionError(method + " failed: " + message.get("error"));
                }
                return message.get("result");
            }
        }
    }

    /** The value of a JavaScript expression in the page, as text. */
    String evaluate(String expression) {
        try {
            return call("Runtime.evaluate", MAPPER.createObjectNode().put("expression", expression).put("returnByValue", true))
                    .path("result").path("value").asText();
        } catch (Exception e) {
            throw new AssertionError("evaluating " + expression, e);
        }
    }

    void screenshot(Path file) throws Exception {
        JsonNode shot = call("Page.captureScreenshot", MAPPER.createObjectNode().put("format", "png"));
        Files.write(file, Base64.getDecoder().decode(shot.path("data").asText()));
    }

    @Override
    public void close() {
        page.close();
        destroy(process);
    }

    /** Chromium's renderer and helper processes go with it. */
    private static void destroy(Process process) {
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        children.forEach(ProcessHandle::destroy);
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
