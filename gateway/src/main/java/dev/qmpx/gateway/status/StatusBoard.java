package dev.qmpx.gateway.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Logger;

/**
 * What the status page shows, and its live feed: each guest's run state and clients, the latest
 * events, and the page's WebSocket subscribers. Guest loops (through their {@link GuestObserver})
 * write it, netty threads subscribe to it: every method holds this object's monitor, so a new
 * subscriber gets the current picture and then every change, none twice and none lost. Messages:
 * {@code {"type": "guest", "guest": NAME, "state": ..., "clients": [...]}} and
 * {@code {"type": "event", "guest": NAME, "event": QEMU's event}}.
 */
public final class StatusBoard {
    private static final Logger LOG = Logger.getLogger(StatusBoard.class.getName());
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int RECENT_EVENTS = 50;

    private final Map<String, ObjectNode> guests = new LinkedHashMap<>();
    private final ArrayDeque<String> recentEvents = new ArrayDeque<>();
    /** Closed channels leave the group by themselves. */
    private final ChannelGroup subscribers = new DefaultChannelGroup("status-page", GlobalEventExecutor.INSTANCE);

    synchronized void state(String guest, String state) {
        publish(guest(guest).put("state", state).toString());
    }

    synchronized void clients(String guest, JsonNode clients) {
        ObjectNode entry = guest(guest);
        entry.set("clients", clients);
        publish(entry.toString());
    }

    /** @param line QEMU's event line, byte for byte */
    synchronized void event(String guest, byte[] line) {
        String message = "{\"type\": \"event\", \"guest\": " + MAPPER.getNodeFactory().textNode(guest) + ", \"event\": "
                + new String(line, StandardCharsets.UTF_8).strip() + "}";
        recentEvents.add(message);
        if (recentEvents.size() > RECENT_EVENTS) {
            recentEvents.poll();
        }
        publish(message);
    }

    /** A page's feed opened: the picture so far, then every change. */
    public synchronized void subscribe(Channel channel) {
        guests.values().forEach(entry -> channel.write(new TextWebSocketFrame(entry.toString())));
        recentEvents.forEach(message -> channel.write(new TextWebSocketFrame(message)));
        channel.flush();
        subscribers.add(channel);
    }

    private ObjectNode guest(String name) {
        return guests.computeIfAbsent(name, n -> MAPPER.createObjectNode().put("type", "guest").put("guest", n)
                .put("state", "starting").set("clients", MAPPER.createArrayNode()));
    }

    /**
     * A page that does not read its feed is dropped once netty's output buffer for it is over its
     * high-water mark (64 KiB), so it cannot hold memory: it reconnects and starts afresh.
     */
    private void publish(String message) {
        for (Channel channel : subscribers) {
            if (!channel.isWritable()) {
                LOG.warning("status page subscriber " + channel.remoteAddress() + " does not read its feed; closing it");
                channel.close();
            }
        }
        subscribers.writeAndFlush(new TextWebSocketFrame(message));
    }
}
