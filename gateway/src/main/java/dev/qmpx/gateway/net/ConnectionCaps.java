package dev.qmpx.gateway.net;

import io.netty.channel.Channel;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many connections one listener holds, in all and per peer IP address: each fd a peer holds
 * is one the process (and its unix admin socket) cannot have. One per listener; thread-safe
 * (netty's accepting and connection threads count in and out).
 */
public final class ConnectionCaps {
    private final String listener;
    private final int perListener;
    private final int perAddress;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> byAddress = new ConcurrentHashMap<>();

    public ConnectionCaps(String listener, int perListener, int perAddress) {
        this.listener = listener;
        this.perListener = perListener;
        this.perAddress = perAddress;
    }

    /**
     * Counts a new connection in, until it closes; over a cap, false (logged, rate-limited): the
     * caller closes it at once. Called in the order of acceptance.
     */
    public boolean admit(Channel channel) {
        InetAddress address = ((InetSocketAddress) channel.remoteAddress()).getAddress();
        String over = null;
        if (total.incrementAndGet() > perListener) {
            over = perListener + " connections on the listener (--max-connections)";
        } else if (byAddress.merge(address, 1, Integer::sum) > perAddress) {
            over = perAddress + " connections from " + address.getHostAddress() + " (--max-connections-per-address)";
            release(address);
        }
        if (over != null) {
            total.decrementAndGet();
            RefusalLog.warning("refused " + address.getHostAddress() + " on " + listener + ": already " + over);
            return false;
        }
        channel.closeFuture().addListener(closed -> {
            total.decrementAndGet();
            release(address);
        });
        return true;
    }

    private void release(InetAddress address) {
        byAddress.computeIfPresent(address, (key, count) -> count == 1 ? null : count - 1);
    }
}
