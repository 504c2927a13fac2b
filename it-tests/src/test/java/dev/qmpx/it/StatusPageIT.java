package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The status page on --listen-ws: served to authenticated clients only, live in a real browser. */
class StatusPageIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String LISTENER = "ws:127.0.0.1:0";
    private static final Path SCREENSHOT = ProxyProcess.HOME.resolve("it-tests/target/status-page.png");

    private static final TlsMaterial tls = TlsMaterial.shared();

    private static GuestFixture guest() throws Exception {
        return GuestFixture.start(tls.options("--listen-ws", "--tls-client-auth", "optional").toArray(String[]::new));
    }

    @Test
    void headlessChromiumShowsTheGuestRunningAndAStopFromAnotherClientWithinASecond() throws Exception {
        try (GuestFixture guest = guest();
             QmpClient unix = guest.client();
             HeadlessChromium browser = HeadlessChromium.open(guest.dir.resolve("chromium"), "https://127.0.0.1:"
                     + guest.proxy.awaitPort(LISTENER) + "/?token=" + TlsMaterial.READONLY_TOKEN)) {
            String state = "document.querySelector('tr[data-guest=\"qemu\"] .state')?.textContent ?? ''";
            Await.until("the page shows the guest running", TIMEOUT, () -> browser.evaluate(state).equals("running"));
            // The token's role (readonly) may not list clients over QMP, so the page names the session only.
            String clients = "document.querySelector('tr[data-guest=\"qemu\"] .clients')?.textContent ?? ''";
            Await.until("the unix client is listed", TIMEOUT, () -> browser.evaluate(clients).startsWith("client#"));
            assertFalse(browser.evaluate(clients).contains("role"), "no details for readonly");
            assertEquals("", browser.evaluate("location.search"), "the token left the address bar");
            long sent = System.nanoTime();
            assertEquals("{\"return\": {}}", unix.execute("{\"execute\": \"stop\"}", TIMEOUT));
            Await.until("STOP in the page's event feed", Duration.ofSeconds(1),
                    () -> browser.evaluate("document.querySelector('#events li[data-event=\"STOP\"]') !== null").equals("true"));
            long millis = (System.nanoTime() - sent) / 1_000_000;
            Await.until("the page shows the guest paused", TIMEOUT, () -> browser.evaluate(state).equals("paused"));
            browser.screenshot(SCREENSHOT);
            System.out.println("status page after stop (STOP shown " + millis + " ms after the command): " + SCREENSHOT);
        }
    }

    @Test
    void thePageAndItsFeedNeedACertificateOrAKnownToken() throws Exception {
        try (GuestFixture guest = guest()) {
            String base = "https://127.0.0.1:" + guest.proxy.awaitPort(LISTENER);
            HttpClient anonymous = HttpClient.newBuilder().sslContext(tls.ca.anonymousClientContext()).build();
            assertEquals(401, anonymous.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(401, anonymous.send(HttpRequest.newBuilder(URI.create(base + "/?token=guess")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            HttpResponse<String> redirect = anonymous.send(HttpRequest.newBuilder(URI.create(base + "/?token="
                    + TlsMaterial.READONLY_TOKEN)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(303, redirect.statusCode());
            assertEquals("qmpx_token=" + TlsMaterial.READONLY_TOKEN + "; Path=/; Secure; HTTPOnly; SameSite=Strict",
                    redirect.headers().firstValue("set-cookie").orElseThrow());
            HttpClient withCertificate = HttpClient.newBuilder().sslContext(tls.admin.clientContext(tls.ca)).build();
            assertTrue(withCertificate.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
                    HttpResponse.BodyHandlers.ofString()).body().contains("<title>qmpx status</title>"));
            try (WsClient feed = WsClient.open(URI.create(base.replace("https", "wss") + "/status/ws"), tls.ca.anonymousClientContext(),
                    Map.of("Authorization", "Bearer " + TlsMaterial.READONLY_TOKEN))) {
                String first = feed.next(TIMEOUT);
                assertTrue(first.startsWith("{\"type\":\"guest\",\"guest\":\"qemu\",\"state\":"), first);
            }
        }
    }

    @Test
    void theFeedShowsEachViewerOnlyTheGuestsItsRoleSeesAndClientDetailsOnlyToARoleThatMayListClients() throws Exception {
        try (GuestFixture guest = guest();
             QmpClient unix = guest.client()) {
            URI feed = URI.create("wss://127.0.0.1:" + guest.proxy.awaitPort(LISTENER) + "/status/ws");
            // Signed by the CA, named by no rule: the policy's default, a role with no command and no events.
            TestPki.Issued nobody = tls.ca.issue(guest.dir.path, "nobody", "CN=nobody,O=qmpx-test", List.of(), false);
            try (WsClient none = WsClient.open(feed, nobody.clientContext(tls.ca), Map.of());
                 WsClient readonly = WsClient.open(feed, tls.readonly.clientContext(tls.ca), Map.of());
                 WsClient admin = WsClient.open(feed, tls.admin.clientContext(tls.ca), Map.of())) {
                String details = awaitMessage(admin, "the unix client with its details", m -> m.contains("\"pid\":"));
                assertTrue(details.contains("\"role\":\"admin\"") && details.contains("\"uid\":"), details);
                String names = awaitMessage(readonly, "the unix client by name", m -> m.contains("\"clients\":[{"));
                for (String detail : List.of("pid", "uid", "gid", "role", "listener")) {
                    assertFalse(names.contains("\"" + detail + "\""), "no " + detail + " for readonly: " + names);
                }
                assertEquals("{\"return\": {}}", unix.execute("{\"execute\": \"stop\"}", TIMEOUT));
                awaitMessage(admin, "STOP for admin", m -> m.contains("\"event\": \"STOP\""));
                awaitMessage(readonly, "STOP for readonly", m -> m.contains("\"event\": \"STOP\""));
                // Everything the others got was written to this feed first, had it been shown anything.
                AssertionError nothing = assertThrows(AssertionError.class, () -> none.next(Duration.ofSeconds(1)));
                assertTrue(nothing.getMessage().startsWith("no WebSocket message"), nothing.getMessage());
            }
        }
    }

    private static String awaitMessage(WsClient feed, String what, Predicate<String> wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            String message = feed.next(TIMEOUT);
            if (wanted.test(message)) {
                return message;
            }
        }
        throw new AssertionError("no status message with " + what);
    }
}
