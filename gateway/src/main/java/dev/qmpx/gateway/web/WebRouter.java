package dev.qmpx.gateway.web;

import dev.qmpx.gateway.GuestDirectory;
import dev.qmpx.gateway.net.RefusalLog;
import dev.qmpx.gateway.status.Sight;
import dev.qmpx.gateway.status.StatusBoard;
import dev.qmpx.gateway.tls.ClientCertificates;
import dev.qmpx.gateway.tls.Handshakes;
import dev.qmpx.proxy.downstream.Peer;
import dev.qmpx.proxy.policy.RemoteIdentity;
import dev.qmpx.proxy.remote.RemoteOptions.ConnectionLimits;
import dev.qmpx.proxy.routing.Guest;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.CookieHeaderNames;
import io.netty.handler.codec.http.cookie.DefaultCookie;
import io.netty.handler.codec.http.cookie.ServerCookieEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateHandler;

import javax.net.ssl.SSLSession;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The requests of a --listen-ws connection, after its TLS handshake: every one must come from a
 * client with a certificate the CA signed or a bearer token a policy rule names (else 401), and a
 * browser's only from the page's own origin (else 403). {@code /qmp/GUEST} (or {@code /qmp} with
 * one guest) becomes a QMP WebSocket; {@code /} is the status page, {@code /status/ws} its live
 * feed, and {@code /?token=T} sets the page's token cookie (a browser cannot put a header on a
 * WebSocket) and redirects to {@code /}, so the token leaves the address bar. After its handshake
 * a client has --http-request-timeout to send its request and see its upgrade through; a WebSocket
 * then lives while it is not idle (--ws-idle-timeout). One instance per channel, on its netty thread.
 */
public final class WebRouter extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final String listener;
    private final GuestDirectory guests;
    private final StatusBoard board;
    private final ConnectionLimits limits;
    private SSLSession session;
    /** Closes the connection unless a WebSocket upgrade is through by then. */
    private ScheduledFuture<?> deadline;

    public WebRouter(String listener, GuestDirectory guests, StatusBoard board, ConnectionLimits limits) {
        this.listener = listener;
        this.guests = guests;
        this.board = board;
        this.limits = limits;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof SslHandshakeCompletionEvent done) {
            session = Handshakes.completed(ctx, done, listener);
            if (session != null) {
                Channel channel = ctx.channel();
                deadline = ctx.executor().schedule(() -> {
                    RefusalLog.warning("closing " + ClientCertificates.address(channel) + " on " + listener
                            + ": no complete HTTP request and upgrade within --http-request-timeout");
                    channel.close();
                }, limits.requestTimeoutMillis(), TimeUnit.MILLISECONDS);
            }
        }
        ctx.fireUserEventTriggered(event);
    }

    /**
     * A failed handshake was logged with its completion event (netty also fires its exception);
     * anything else gets one line. Either way nothing reaches netty's tail, which would log a
     * stack trace for every peer that cares to fail a handshake.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!Handshakes.failed(ctx)) {
            RefusalLog.warning("closing " + ClientCertificates.address(ctx.channel()) + " on " + listener + ": " + cause);
        }
        ctx.close();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        String address = ClientCertificates.address(ctx.channel());
        if (!request.decoderResult().isSuccess()) {
            RefusalLog.warning("refused " + address + " on " + listener + ": bad request: " + request.decoderResult().cause());
            respond(ctx, HttpResponseStatus.BAD_REQUEST, "bad request");
            return;
        }
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String token = BearerTokens.token(request, uri);
        RemoteIdentity identity = ClientCertificates.identity(session, address, token == null ? null : BearerTokens.sha256(token));
        if (identity.subject() == null && !(token != null && guests.policy().knowsToken(identity.tokenSha256()))) {
            String why = token == null ? "no client certificate and no bearer token" : "unknown bearer token";
            RefusalLog.warning("refused " + address + " on " + listener + ": " + why);
            FullHttpResponse response = response(HttpResponseStatus.UNAUTHORIZED, "qmpx: " + why + "\n", "text/plain");
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
            send(ctx, response);
            return;
        }
        String origin = request.headers().get(HttpHeaderNames.ORIGIN);
        if (origin != null && !origin.equals("https://" + request.headers().get(HttpHeaderNames.HOST))) {
            RefusalLog.warning("refused " + address + " on " + listener + ": cross-origin request from " + origin);
            respond(ctx, HttpResponseStatus.FORBIDDEN, "qmpx: cross-origin request refused");
            return;
        }
        String path = uri.path();
        if (request.method() != HttpMethod.GET) {
            respond(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "qmpx: only GET");
        } else if (path.equals("/qmp") || path.startsWith("/qmp/")) {
            openQmp(ctx, request, path, identity);
        } else if (path.equals("/") && uri.parameters().containsKey("token")) {
            FullHttpResponse response = response(HttpResponseStatus.SEE_OTHER, "", "text/plain");
            DefaultCookie cookie = new DefaultCookie(BearerTokens.COOKIE, token);
            cookie.setHttpOnly(true);
            cookie.setSecure(true);
            cookie.setSameSite(CookieHeaderNames.SameSite.Strict);
            cookie.setPath("/");
            response.headers().set(HttpHeaderNames.SET_COOKIE, ServerCookieEncoder.STRICT.encode(cookie))
                    .set(HttpHeaderNames.LOCATION, "/");
            send(ctx, response);
        } else if (path.equals("/")) {
            send(ctx, response(HttpResponseStatus.OK, StatusPage.HTML, "text/html; charset=utf-8"));
        } else if (path.equals("/status/ws")) {
            Channel channel = ctx.channel();
            Map<String, Sight> sights = guests.all().stream().collect(Collectors.toMap(guest -> guest.config().name(),
                    guest -> Sight.of(guests.roleFor(guest, listener, identity))));
            upgrade(ctx, request, path, handshaker -> new StatusFeedHandler(handshaker, listener),
                    feed -> board.subscribe(channel, sights));
        } else {
            respond(ctx, HttpResponseStatus.NOT_FOUND, "qmpx: nothing at " + path);
        }
    }

    private void openQmp(ChannelHandlerContext ctx, FullHttpRequest request, String path, RemoteIdentity identity) {
        Guest guest;
        try {
            guest = guests.find(path.length() > "/qmp/".length() ? path.substring("/qmp/".length()) : null,
                    "the URL path /qmp/GUEST", listener, identity);
        } catch (GuestDirectory.UnknownGuest e) {
            RefusalLog.warning("refused " + identity + " on " + listener + ": " + e.getMessage());
            respond(ctx, HttpResponseStatus.NOT_FOUND, e.getMessage());
            return;
        }
        Channel channel = ctx.channel();
        upgrade(ctx, request, path, handshaker -> new WsQmpHandler(handshaker, listener, guests.maxMessageBytes()),
                qmp -> qmp.attach(channel, guest, Peer.network(listener, identity)));
    }

    /**
     * Upgrades the connection to a WebSocket served by the endpoint this router gives way to;
     * opened runs on the channel's thread once the upgrade's response is out.
     */
    private <E extends WebSocketEndpoint> void upgrade(ChannelHandlerContext ctx, FullHttpRequest request, String path,
                                                       Function<WebSocketServerHandshaker, E> endpoint, Consumer<E> opened) {
        WebSocketServerHandshaker handshaker = new WebSocketServerHandshakerFactory("wss://"
                + request.headers().get(HttpHeaderNames.HOST) + path, null, false, guests.maxMessageBytes()).newHandshaker(request);
        if (handshaker == null) {
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
            return;
        }
        E handler = endpoint.apply(handshaker);
        ctx.pipeline().addBefore(ctx.name(), "ws-idle", new IdleStateHandler(limits.wsIdleMillis() / 2, 0, 0,
                TimeUnit.MILLISECONDS));
        ctx.pipeline().addBefore(ctx.name(), "ws-aggregator", new WebSocketFrameAggregator(guests.maxMessageBytes()));
        ctx.pipeline().replace(this, "ws-endpoint", handler);
        handshaker.handshake(ctx.channel(), request).addListener(upgraded -> {
            if (upgraded.isSuccess()) {
                deadline.cancel(false);
                opened.accept(handler);
            }
        });
    }

    private static void respond(ChannelHandlerContext ctx, HttpResponseStatus status, String text) {
        send(ctx, response(status, text + "\n", "text/plain; charset=utf-8"));
    }

    static FullHttpResponse response(HttpResponseStatus status, String body, String type) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, type)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes())
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        return response;
    }

    /** One request per connection: the response, then close. */
    static void send(ChannelHandlerContext ctx, FullHttpResponse response) {
        response.headers().set(HttpHeaderNames.CONNECTION, "close");
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
}
