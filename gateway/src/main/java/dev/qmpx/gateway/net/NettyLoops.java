package dev.qmpx.gateway.net;

import dev.qmpx.proxy.metrics.MetricsEndpoint.Address;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * The front end's netty threads: one accepting, and one per core serving connections, on the
 * native epoll transport (NIO, logged, where epoll is unavailable). These threads never touch a
 * guest's state: they post to its loop (THREADS.md).
 */
public final class NettyLoops implements Closeable {
    private static final Logger LOG = Logger.getLogger(NettyLoops.class.getName());

    private final EventLoopGroup acceptor;
    private final EventLoopGroup workers;
    private final Class<? extends ServerChannel> serverChannel;

    private NettyLoops(IoHandlerFactory io, Class<? extends ServerChannel> serverChannel) {
        this.acceptor = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("qmpx-net-accept", true), io);
        this.workers = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory("qmpx-net", true), io);
        this.serverChannel = serverChannel;
    }

    public static NettyLoops create() {
        if (Epoll.isAvailable()) {
            return new NettyLoops(EpollIoHandler.newFactory(), EpollServerSocketChannel.class);
        }
        LOG.warning("netty's native epoll transport is unavailable (" + Epoll.unavailabilityCause() + "); using NIO");
        return new NettyLoops(NioIoHandler.newFactory(), NioServerSocketChannel.class);
    }

    /**
     * Listens on the address; each accepted connection is first offered to admit, on the accepting
     * thread in the order of acceptance (before it is handed to a connection thread, where the
     * order is lost): refused, it is closed there; admitted, its pipeline is set up by init.
     *
     * @return the listening channel, bound (port 0 picks a free port, which the log names)
     */
    public Channel bind(String name, Address address, Predicate<Channel> admit, Consumer<SocketChannel> init) throws IOException {
        ServerBootstrap bootstrap = new ServerBootstrap().group(acceptor, workers).channel(serverChannel)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object accepted) {
                        Channel child = (Channel) accepted;
                        if (admit.test(child)) {
                            ctx.fireChannelRead(child);
                        } else {
                            child.unsafe().closeForcibly();
                        }
                    }
                })
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        init.accept(channel);
                    }
                });
        var future = bootstrap.bind(address.host(), address.port()).awaitUninterruptibly();
        if (!future.isSuccess()) {
            throw new IOException("cannot listen on " + name + ": " + future.cause().getMessage(), future.cause());
        }
        InetSocketAddress bound = (InetSocketAddress) future.channel().localAddress();
        LOG.info("network listener " + name + " accepting on " + bound.getAddress().getHostAddress() + ":" + bound.getPort()
                + " (" + (serverChannel == EpollServerSocketChannel.class ? "epoll" : "nio") + ")");
        return future.channel();
    }

    @Override
    public void close() {
        acceptor.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    }
}
