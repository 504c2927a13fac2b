package dev.qmpx.it;

import javax.net.ssl.SSLContext;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The JDK's own {@code java.net.http.WebSocket} client, one whole text message at a time: a QMP
 * client of the front end's {@code /qmp} endpoint, or a subscriber of the status feed. The
 * listener runs on the HttpClient's threads and only queues what arrives.
 */
final class WsClient implements WebSocket.Listener, AutoCloseable {
    private final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
    private final StringBuilder partial = new StringBuilder();
    /** False for a client that never reads: the JDK reads no frame nobody asked for (back-pressure). */
    private final boolean reading;
    private WebSocket socket;

    private WsClient(boolean reading) {
        this.reading = reading;
    }

    /** Opens the socket; a refused upgrade throws (its cause names the HTTP status). */
    static WsClient open(URI uri, SSLContext tls, Map<String, String> headers) throws Exception {
        return open(uri, tls, headers, true);
    }

    /** Opens a socket that never reads what the server sends (not even the greeting). */
    static WsClient openNotReading(URI uri, SSLContext tls, Map<String, String> headers) throws Exception {
        return open(uri, tls, headers, false);
    }

    private static WsClient open(URI uri, SSLContext tls, Map<String, String> headers, boolean reading) throws Exception {
        WsClient client = new WsClient(reading);
        WebSocket.Builder builder = HttpClient.newBuilder().sslContext(tls).connectTimeout(GuestFixture.TIMEOUT).build()
                .newWebSocketBuilder();
        headers.forEach(builder::header);
        client.socket = builder.buildAsync(uri, client).get(GuestFixture.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        return client;
    }

    @Override
    public void onOpen(WebSocket webSocket) {
        if (reading) {
            webSocket.request(1);
        }
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            messages.add(partial.toString());
            partial.setLength(0);
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        messages.add("CLOSED " + statusCode + " " + reason);
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        messages.add("ERROR " + error);
    }

    void send(String text) {
        socket.sendText(text, true).join();
    }

    /** Sends a ping; the returned stage completes when the frame is handed to the socket. */
    java.util.concurrent.CompletableFuture<WebSocket> ping(java.nio.ByteBuffer payload) {
        return socket.sendPing(payload);
    }

    /** The next whole message, a {@code CLOSED code reason} line, or an assertion failure at the deadline. */
    String next(Duration timeout) throws InterruptedException {
        String message = messages.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (message == null) {
            throw new AssertionError("no WebSocket message within " + timeout.toMillis() + " ms");
        }
        return message;
    }

    /** Sends a command and returns the next message that is not an event. */
    String execute(String command, Duration timeout) throws InterruptedException {
        send(command);
        String message;
        do {
            message = next(timeout);
        } while (message.startsWith("{\"timestamp\""));
        return message;
    }

    @Override
    public void close() {
        socket.abort();
    }
}
