package dev.qmpx.gateway.web;

import dev.qmpx.gateway.client.Framing;
import dev.qmpx.gateway.client.NetworkClient;
import dev.qmpx.gateway.net.RefusalLog;
import dev.qmpx.gateway.tls.ClientCertificates;
import dev.qmpx.proxy.downstream.Peer;
import dev.qmpx.proxy.routing.Guest;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;

/**
 * QMP over a WebSocket: each text frame is one JSON message for the guest's session, each reply
 * and event goes back as one text frame. One instance per channel, on its netty thread.
 */
final class WsQmpHandler extends WebSocketEndpoint {
    private final int maxMessageBytes;
    private NetworkClient client;

    WsQmpHandler(WebSocketServerHandshaker handshaker, String listener, int maxMessageBytes) {
        super(handshaker, listener);
        this.maxMessageBytes = maxMessageBytes;
    }

    /** The upgrade is done: the channel becomes a session of the guest. */
    void attach(Channel channel, Guest guest, Peer peer) {
        client = NetworkClient.attach(channel, guest, peer, Framing.TEXT_FRAMES);
    }

    @Override
    protected void text(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
        client.received(frame.content());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (client != null) {
            client.disconnected("client closed the connection");
        }
        ctx.fireChannelInactive();
    }

    /**
     * A message over --max-message-bytes (one frame, or the fragments of one) is refused with close
     * status 1009; any other failure closes the connection.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        boolean tooBig = cause instanceof TooLongFrameException || cause instanceof CorruptedWebSocketFrameException corrupted
                && corrupted.closeStatus() == WebSocketCloseStatus.MESSAGE_TOO_BIG;
        RefusalLog.warning("closing network client " + ClientCertificates.address(ctx.channel()) + " on " + listener + ": "
                + (tooBig ? "a message over the limit of " + maxMessageBytes + " bytes" : cause.toString()));
        if (tooBig && ctx.channel().isActive()) {
            ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.MESSAGE_TOO_BIG, "message over " + maxMessageBytes + " bytes"))
                    .addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.close();
        }
    }
}
