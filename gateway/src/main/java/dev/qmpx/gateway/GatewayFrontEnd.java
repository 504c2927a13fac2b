package dev.qmpx.gateway;

import dev.qmpx.gateway.net.ConnectionCaps;
import dev.qmpx.gateway.net.NettyLoops;
import dev.qmpx.gateway.net.OutputBound;
import dev.qmpx.gateway.status.GuestObserver;
import dev.qmpx.gateway.status.StatusBoard;
import dev.qmpx.gateway.stream.QmpStreamHandler;
import dev.qmpx.gateway.tls.TlsContexts;
import dev.qmpx.proxy.metrics.MetricsEndpoint.Address;
import dev.qmpx.proxy.remote.RemoteFrontEnd;
import dev.qmpx.proxy.remote.RemoteOptions;
import dev.qmpx.proxy.routing.Guest;
import dev.qmpx.gateway.web.WebRouter;
import io.netty.channel.Channel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;

import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** The network front end of {@code qmpx proxy}: its listeners on one set of netty threads. */
public final class GatewayFrontEnd implements RemoteFrontEnd {
    /** An HTTP request to the WebSocket listener (an upgrade or the page) is small; larger ones get 413. */
    private static final int MAX_REQUEST_BYTES = 16 * 1024;

    @Override
    public Closeable start(RemoteOptions options, List<Guest> guests) throws IOException {
        GuestDirectory directory = new GuestDirectory(guests);
        if (!options.insecure().isEmpty() && guests.size() > 1) {
            throw new IOException("--insecure-listen serves one guest (a plain stream has no way to name one); "
                    + "use --listen-tls (SNI) or --listen-ws (URL path) with --config");
        }
        TlsContexts tls = options.tls().isEmpty() && options.ws().isEmpty() ? null : TlsContexts.server(options);
        StatusBoard board = new StatusBoard();
        if (!options.ws().isEmpty()) {
            guests.forEach(guest -> GuestObserver.start(guest, board));
        }
        NettyLoops loops = NettyLoops.create();
        List<Channel> listening = new ArrayList<>();
        try {
            for (Address address : options.insecure()) {
                String name = name("tcp", address);
                listening.add(serve(loops, name, address, options, channel ->
                        channel.pipeline().addLast(new OutputBound(name, directory.outputLimit()),
                                new QmpStreamHandler(name, directory, false))));
            }
            for (Address address : options.tls()) {
                String name = name("tls", address);
                listening.add(serve(loops, name, address, options, channel ->
                        channel.pipeline().addLast(tls.handler(channel), new OutputBound(name, directory.outputLimit()),
                                new QmpStreamHandler(name, directory, true))));
            }
            for (Address address : options.ws()) {
                String name = name("ws", address);
                listening.add(serve(loops, name, address, options, channel ->
                        channel.pipeline().addLast(tls.handler(channel), new OutputBound(name, directory.outputLimit()),
                                new HttpServerCodec(), new HttpObjectAggregator(MAX_REQUEST_BYTES),
                                new WebRouter(name, directory, board, options.limits()))));
            }
        } catch (IOException e) {
            listening.forEach(Channel::close);
            loops.close();
            throw e;
        }
        return () -> {
            listening.forEach(Channel::close);
            loops.close();
        };
    }

    /** Listens with the listener's connection caps: a connection over one is closed as it is accepted. */
    private static Channel serve(NettyLoops loops, String name, Address address, RemoteOptions options,
                                 Consumer<SocketChannel> init) throws IOException {
        ConnectionCaps caps = new ConnectionCaps(name, options.limits().perListener(), options.limits().perAddress());
        return loops.bind(name, address, caps::admit, init);
    }

    /** A listener's name in logs, the audit and policy rules: as given on the command line. */
    private static String name(String kind, Address address) {
        String host = address.host().contains(":") ? "[" + address.host() + "]" : address.host();
        return kind + ":" + host + ":" + address.port();
    }
}
