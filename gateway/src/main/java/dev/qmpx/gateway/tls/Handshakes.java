package dev.qmpx.gateway.tls;

import dev.qmpx.gateway.net.RefusalLog;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

import javax.net.ssl.SSLSession;
import java.nio.channels.ClosedChannelException;

/** The end of a connection's TLS handshake, as the front end's handlers see it. */
public final class Handshakes {
    private Handshakes() {
    }

    /**
     * The session of a handshake that succeeded, or null: a failed one (unknown CA, expired or
     * missing certificate, plain text, timeout, the peer closing) is logged in one line
     * (rate-limited) and the connection closed.
     */
    public static SSLSession completed(ChannelHandlerContext ctx, SslHandshakeCompletionEvent event, String listener) {
        if (!event.isSuccess()) {
            RefusalLog.warning("refused " + ClientCertificates.address(ctx.channel()) + " on " + listener
                    + ": TLS handshake failed: " + why(event.cause()));
            ctx.close();
            return null;
        }
        return ctx.pipeline().get(SslHandler.class).engine().getSession();
    }

    /**
     * Whether an exception is the one a failed handshake also reports as its completion event
     * (netty fires both): the event's line says it, so the exception needs no second one.
     */
    public static boolean failed(ChannelHandlerContext ctx) {
        SslHandler tls = ctx.pipeline().get(SslHandler.class);
        return tls != null && !(tls.handshakeFuture().isDone() && tls.handshakeFuture().isSuccess());
    }

    /** What went wrong, in words: netty's closed-channel exceptions have no message. */
    private static String why(Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c.getMessage() != null) {
                return c.getMessage();
            }
            if (c instanceof ClosedChannelException) {
                return "the connection was closed by the peer during the handshake";
            }
        }
        return cause.getClass().getSimpleName();
    }
}
