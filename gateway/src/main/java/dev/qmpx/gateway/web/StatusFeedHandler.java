package dev.qmpx.gateway.web;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;

/** The status page's feed: the board writes to it; what the page sends is ignored. */
final class StatusFeedHandler extends WebSocketEndpoint {
    StatusFeedHandler(WebSocketServerHandshaker handshaker, String listener) {
        super(handshaker, listener);
    }

    @Override
    protected void text(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
    }
}
