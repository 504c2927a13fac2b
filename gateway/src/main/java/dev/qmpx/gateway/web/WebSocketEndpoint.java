package dev.qmpx.gateway.web;

import dev.qmpx.gateway.net.RefusalLog;
import dev.qmpx.gateway.tls.ClientCertificates;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * An upgraded WebSocket: closing and pings as the protocol wants; text frames go to {@link #text}.
 * A peer that sends nothing for half the idle time is pinged (browsers answer by themselves), and
 * closed when the other half passes in silence too ({@code IdleStateHandler}'s reader events,
 * the first and the next). Pongs pass through the connection's output bound like any write.
 */
abstract class WebSocketEndpoint extends SimpleChannelInboundHandler<WebSocketFrame> {
    protected final WebSocketServerHandshaker handshaker;
    protected final String listener;

    WebSocketEndpoint(WebSocketServerHandshaker handshaker, String listener) {
        this.handshaker = handshaker;
        this.listener = listener;
    }

    protected abstract void text(ChannelHandlerContext ctx, TextWebSocketFrame frame);

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
        switch (frame) {
            case TextWebSocketFrame text -> text(ctx, text);
            case CloseWebSocketFrame close -> handshaker.close(ctx.channel(), close.retain());
            case PingWebSocketFrame ping -> ctx.writeAndFlush(new PongWebSocketFrame(ping.content().retain()));
            case PongWebSocketFrame pong -> { }
            default -> handshaker.close(ctx.channel(), new CloseWebSocketFrame(WebSocketCloseStatus.INVALID_MESSAGE_TYPE,
                    "text frames only"));
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (event instanceof IdleStateEvent idle) {
            if (idle.isFirst()) {
                ctx.writeAndFlush(new PingWebSocketFrame(Unpooled.EMPTY_BUFFER));
            } else {
                RefusalLog.warning("closing " + ClientCertificates.address(ctx.channel()) + " on " + listener
                        + ": its WebSocket sent nothing, not even a pong, for --ws-idle-timeout");
                // Closed now, not once the close frame is written: a peer that reads nothing never lets it be.
                ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.POLICY_VIOLATION, "idle"));
                ctx.close();
            }
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    /** A broken connection: one line (rate-limited: a peer can break many), then close. */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        RefusalLog.warning("closing " + ClientCertificates.address(ctx.channel()) + " on " + listener + ": " + cause);
        ctx.close();
    }
}
