package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
            assertTrue(browser.evaluate("document.querySelector('tr[data-guest=\"qemu\"] .clients').textContent")
                    .contains(guest.listen.toString() + "  role admin"), "the unix client is listed");
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
}
