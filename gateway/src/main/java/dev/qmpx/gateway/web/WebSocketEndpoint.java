package dev.qmpx.gateway.web;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;

/** An upgraded WebSocket: closing and pings as the protocol wants; text frames go to {@link #text}. */
abstract class WebSocketEndpoint extends SimpleChannelInboundHandler<WebSocketFrame> {
    protected final WebSocketServerHandshaker handshaker;

    WebSocketEndpoint(WebSocketServerHandshaker handshaker) {
        this.handshaker = handshaker;
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
}
