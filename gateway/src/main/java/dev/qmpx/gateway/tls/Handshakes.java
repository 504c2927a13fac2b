package dev.qmpx.gateway.tls;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

import javax.net.ssl.SSLSession;
import java.util.logging.Logger;

/** The end of a connection's TLS handshake, as the front end's handlers see it. */
public final class Handshakes {
    private static final Logger LOG = Logger.getLogger(Handshakes.class.getName());

    private Handshakes() {
    }

    /**
     * The session of a handshake that succeeded, or null: a failed one (unknown CA, expired or
     * missing certificate, plain text, timeout) is logged and the connection closed.
     */
    public static SSLSession completed(ChannelHandlerContext ctx, SslHandshakeCompletionEvent event, String listener) {
        if (!event.isSuccess()) {
            LOG.warning("refused " + ClientCertificates.address(ctx.channel()) + " on " + listener
                    + ": TLS handshake failed: " + event.cause().getMessage());
            ctx.close();
            return null;
        }
        return ctx.pipeline().get(SslHandler.class).engine().getSession();
    }
}
