package dev.qmpx.gateway.net;

import dev.qmpx.gateway.tls.ClientCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;

import java.nio.channels.ClosedChannelException;

/**
 * Every byte a connection is sent and has not read yet, whoever wrote it (replies, events, pongs,
 * the status feed, HTTP responses), against --client-output-limit: past it the connection is
 * closed, so a peer that never reads holds at most that much of the proxy's memory. It sits just
 * after TLS (or first, without), where every write passes. One per channel, on its netty thread.
 */
public final class OutputBound extends ChannelOutboundHandlerAdapter {
    private final String listener;
    private final long limit;
    private long unsent;
    private boolean closing;

    public OutputBound(String listener, long limit) {
        this.listener = listener;
        this.limit = limit;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
        long size = switch (message) {
            case ByteBuf bytes -> bytes.readableBytes();
            case ByteBufHolder holder -> holder.content().readableBytes();
            default -> 0;
        };
        if (closing || unsent + size > limit) {
            if (!closing) {
                closing = true;
                RefusalLog.warning("closing " + ClientCertificates.address(ctx.channel()) + " on " + listener
                        + ": it does not read what it is sent (" + (unsent + size) + " bytes unsent, --client-output-limit "
                        + limit + ")");
                ctx.close();
            }
            ReferenceCountUtil.release(message);
            promise.tryFailure(new ClosedChannelException());
            return;
        }
        unsent += size;
        ctx.write(message, promise.unvoid()).addListener(done -> unsent -= size);
    }
}
