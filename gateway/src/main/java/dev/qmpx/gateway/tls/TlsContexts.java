package dev.qmpx.gateway.tls;

import dev.qmpx.proxy.remote.RemoteOptions;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;

import java.io.IOException;

/**
 * The server side of the front end's TLS: the JDK's provider, TLS 1.3 (and 1.2 when allowed),
 * client certificates checked against --tls-ca (required unless --tls-client-auth optional), and
 * a bound on how long a handshake may take. Immutable; its handlers are made per connection.
 */
public final class TlsContexts {
    private final SslContext context;
    private final long handshakeTimeoutMillis;

    private TlsContexts(SslContext context, long handshakeTimeoutMillis) {
        this.context = context;
        this.handshakeTimeoutMillis = handshakeTimeoutMillis;
    }

    public static TlsContexts server(RemoteOptions options) throws IOException {
        try {
            SslContext context = SslContextBuilder.forServer(options.cert().toFile(), options.key().toFile())
                    .trustManager(options.ca().toFile())
                    .clientAuth(options.clientCertRequired() ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL)
                    .protocols(options.allowTls12() ? new String[] {"TLSv1.3", "TLSv1.2"} : new String[] {"TLSv1.3"})
                    .sslProvider(SslProvider.JDK)
                    .build();
            return new TlsContexts(context, options.handshakeTimeoutMillis());
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("TLS material (--tls-cert " + options.cert() + ", --tls-key " + options.key()
                    + ", --tls-ca " + options.ca() + "): " + e.getMessage()
                    + (e.getCause() != null ? " (" + e.getCause().getMessage() + ")" : ""), e);
        }
    }

    /** A handler for one new connection, first in its pipeline. */
    public SslHandler handler(Channel channel) {
        SslHandler handler = context.newHandler(channel.alloc());
        handler.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
        return handler;
    }
}
