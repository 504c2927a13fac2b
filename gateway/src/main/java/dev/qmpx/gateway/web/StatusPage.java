package dev.qmpx.gateway.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** The status page's HTML (status.html beside this class): it draws what the feed at /status/ws says. */
final class StatusPage {
    static final String HTML = load();

    private StatusPage() {
    }

    private static String load() {
        try (InputStream in = StatusPage.class.getResourceAsStream("status.html")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("status.html is missing from the gateway jar", e);
        }
    }
}
