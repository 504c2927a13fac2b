package dev.qmpx.gateway.stream;

import dev.qmpx.gateway.GuestDirectory;
import dev.qmpx.gateway.client.Framing;
import dev.qmpx.gateway.client.NetworkClient;
import dev.qmpx.gateway.net.RefusalLog;
import dev.qmpx.gateway.tls.ClientCertificates;
import dev.qmpx.gateway.tls.Handshakes;
import dev.qmpx.proxy.downstream.Peer;
import dev.qmpx.proxy.policy.RemoteIdentity;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.QmpWire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

import javax.net.ssl.SSLSession;
import java.util.List;

/**
 * QMP over a TCP byte stream, plain (--insecure-listen) or after a TLS handshake (--listen-tls):
 * the bytes go to a {@link NetworkClient} unchanged, one JSON message per line as on a unix socket.
 * A TLS client must present a certificate the CA signed and names its guest with SNI; the policy
 * must give it a role there. Input that does not start as QMP does ({@link QmpStart}) closes the
 * connection before any of it reaches the session: an HTTP request a browser or a forged request
 * sends to this port never reaches QEMU. One instance per channel, on the channel's netty thread.
 */
public final class QmpStreamHandler extends ChannelInboundHandlerAdapter {
    private final String listener;
    private final GuestDirectory guests;
    private final boolean tls;
    private NetworkClient client;
    /** Whether the input has started as QMP does; until then it is checked. */
    private boolean qmp;

    public QmpStreamHandler(String listener, GuestDirectory guests, boolean tls) {
        this.listener = listener;
        this.guests = guests;
        this.tls = tls;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (!tls) {
            start(ctx, null, new RemoteIdentity(ClientCertificates.address(ctx.channel()), null, List.of(), null));
        }
        ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof SslHandshakeCompletionEvent done) {
            SSLSession session = Handshakes.completed(ctx, done, listener);
            if (session == null) {
                return;
            }
            String address = ClientCertificates.address(ctx.channel());
            RemoteIdentity identity = ClientCertificates.identity(session, address, null);
            if (identity.subject() == null) {
                refuse(ctx, address, "qmpx: this listener needs a client certificate");
                return;
            }
            start(ctx, ClientCertificates.serverName(session), identity);
        }
        ctx.fireUserEventTriggered(event);
    }

    private void start(ChannelHandlerContext ctx, String requestedGuest, RemoteIdentity identity) {
        try {
            client = NetworkClient.attach(ctx.channel(), guests.find(requestedGuest, "TLS SNI", listener, identity),
                    Peer.network(listener, identity), Framing.LINES);
        } catch (GuestDirectory.UnknownGuest e) {
            refuse(ctx, identity.address(), e.getMessage());
        }
    }

    /** Tells the client why in a QMP error line (nothing reached a guest), then closes. */
    private void refuse(ChannelHandlerContext ctx, String address, String why) {
        RefusalLog.warning("refused " + address + " on " + listener + ": " + why);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(QmpWire.errorLine(null, QmpError.generic(why))))
                .addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object message) {
        ByteBuf bytes = (ByteBuf) message;
        try {
            if (client == null) {
                return;
            }
            if (!qmp) {
                QmpStart start = QmpStart.of(bytes);
                if (start == QmpStart.NOT_QMP) {
                    String why = "qmpx: not QMP (a client's input starts with '{'), got \"" + QmpStart.excerpt(bytes) + "\"";
                    client.disconnected(why);
                    client = null;
                    ctx.channel().config().setAutoRead(false);
                    refuse(ctx, ClientCertificates.address(ctx.channel()), why);
                    return;
                }
                qmp = start == QmpStart.QMP;
            }
            client.received(bytes);
        } finally {
            bytes.release();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (client != null) {
            client.disconnected("client closed the connection");
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A failed handshake is logged once, with its event; later failures are the connection's.
        if (!Handshakes.failed(ctx)) {
            RefusalLog.warning("network client " + ClientCertificates.address(ctx.channel()) + " on " + listener + ": " + cause);
        }
        ctx.close();
    }
}
