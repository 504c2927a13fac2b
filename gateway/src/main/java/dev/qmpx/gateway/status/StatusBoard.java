package dev.qmpx.gateway.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the status page shows, and its live feed: each guest's run state and clients, the latest
 * events, and the page's WebSocket subscribers, each with what it may see of each guest
 * ({@link Sight}). Guest loops (through their {@link GuestObserver}) write it, netty threads
 * subscribe to it: every method holds this object's monitor, so a new subscriber gets the current
 * picture and then every change, none twice and none lost; writes to a channel are hand-offs to its
 * netty thread. A page that does not read its feed is closed by its connection's output bound
 * (--client-output-limit) at the write that passes it. Messages:
 * {@code {"type": "guest", "guest": NAME, "state": ..., "clients": [...]}} and
 * {@code {"type": "event", "guest": NAME, "event": QEMU's event}}.
 */
public final class StatusBoard {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int RECENT_EVENTS = 50;

    private record Event(String guest, byte[] message) {
    }

    private final Map<String, ObjectNode> guests = new LinkedHashMap<>();
    private final ArrayDeque<Event> recentEvents = new ArrayDeque<>();
    private final Map<Channel, Map<String, Sight>> subscribers = new LinkedHashMap<>();

    synchronized void state(String guest, String state) {
        guest(guest).put("state", state);
        publishGuest(guest);
    }

    synchronized void clients(String guest, JsonNode clients) {
        guest(guest).set("clients", clients);
        publishGuest(guest);
    }

    /** @param line QEMU's event line, byte for byte */
    synchronized void event(String guest, byte[] line) {
        Event event = new Event(guest, ("{\"type\": \"event\", \"guest\": " + MAPPER.getNodeFactory().textNode(guest)
                + ", \"event\": " + new String(line, StandardCharsets.UTF_8).strip() + "}").getBytes(StandardCharsets.UTF_8));
        recentEvents.add(event);
        if (recentEvents.size() > RECENT_EVENTS) {
            recentEvents.poll();
        }
        for (var subscriber : subscribers.entrySet()) {
            if (sight(subscriber.getValue(), guest) != Sight.NONE) {
                subscriber.getKey().writeAndFlush(frame(event.message()));
            }
        }
    }

    /**
     * A page's feed opened: the picture so far of the guests it may see, then every change.
     *
     * @param sights what the page's viewer sees of each guest; a guest not named is not seen
     */
    public synchronized void subscribe(Channel channel, Map<String, Sight> sights) {
        guests.forEach((guest, entry) -> {
            Sight sight = sight(sights, guest);
            if (sight != Sight.NONE) {
                channel.write(frame(view(entry, sight)));
            }
        });
        recentEvents.stream().filter(event -> sight(sights, event.guest()) != Sight.NONE)
                .forEach(event -> channel.write(frame(event.message())));
        channel.flush();
        subscribers.put(channel, Map.copyOf(sights));
        channel.closeFuture().addListener(closed -> unsubscribe(channel));
    }

    private synchronized void unsubscribe(Channel channel) {
        subscribers.remove(channel);
    }

    private ObjectNode guest(String name) {
        return guests.computeIfAbsent(name, n -> MAPPER.createObjectNode().put("type", "guest").put("guest", n)
                .put("state", "starting").set("clients", MAPPER.createArrayNode()));
    }

    private void publishGuest(String guest) {
        ObjectNode entry = guests.get(guest);
        byte[] details = null;
        byte[] state = null;
        for (var subscriber : subscribers.entrySet()) {
            Sight sight = sight(subscriber.getValue(), guest);
            if (sight == Sight.DETAILS) {
                details = details != null ? details : view(entry, sight);
                subscriber.getKey().writeAndFlush(frame(details));
            } else if (sight == Sight.STATE) {
                state = state != null ? state : view(entry, sight);
                subscriber.getKey().writeAndFlush(frame(state));
            }
        }
    }

    private static Sight sight(Map<String, Sight> sights, String guest) {
        return sights.getOrDefault(guest, Sight.NONE);
    }

    /** The guest's entry as a viewer with this sight sees it: without details, each client is its session name. */
    private static byte[] view(ObjectNode entry, Sight sight) {
        if (sight == Sight.DETAILS) {
            return entry.toString().getBytes(StandardCharsets.UTF_8);
        }
        ObjectNode shown = entry.deepCopy();
        ArrayNode names = MAPPER.createArrayNode();
        entry.path("clients").forEach(client -> names.addObject().set("client", client.path("client")));
        shown.set("clients", names);
        return shown.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A frame of its own around shared bytes: each channel's write releases its own. */
    private static TextWebSocketFrame frame(byte[] message) {
        return new TextWebSocketFrame(Unpooled.wrappedBuffer(message));
    }
}
