package dev.qmpx.gateway.web;

import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Where a client without a certificate presents its bearer token: an {@code Authorization: Bearer}
 * header (API clients), the {@value #COOKIE} cookie (a browser, which cannot set headers on a
 * WebSocket), or once, in {@code /?token=}, to have that cookie set. The proxy keeps only the
 * tokens' SHA-256 (policy rules {@code token-sha256}). Stateless.
 */
final class BearerTokens {
    static final String COOKIE = "qmpx_token";

    private BearerTokens() {
    }

    /** The token the request carries, or null. */
    static String token(FullHttpRequest request, QueryStringDecoder uri) {
        String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).strip();
        }
        String cookies = request.headers().get(HttpHeaderNames.COOKIE);
        if (cookies != null) {
            for (Cookie cookie : ServerCookieDecoder.STRICT.decode(cookies)) {
                if (cookie.name().equals(COOKIE)) {
                    return cookie.value();
                }
            }
        }
        List<String> query = uri.parameters().get("token");
        return query == null || query.isEmpty() ? null : query.get(0);
    }

    static String sha256(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
