package dev.qmpx.gateway.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.qmpx.proxy.downstream.ClientSession;
import dev.qmpx.proxy.downstream.ClientTransport;
import dev.qmpx.proxy.downstream.Peer;
import dev.qmpx.proxy.policy.Role;
import dev.qmpx.proxy.routing.Guest;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The status page's eyes on one guest: a readonly client session of the proxy's own (so it sees
 * exactly the events a client sees), which asks {@code query-status} after every event that may
 * change the run state, and reads the guest's client list once a second. Confined to the guest's
 * loop thread; it reports to the {@link StatusBoard}.
 */
public final class GuestObserver implements ClientTransport {
    private static final Logger LOG = Logger.getLogger(GuestObserver.class.getName());
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final FileDescriptor[] NO_FDS = new FileDescriptor[0];
    private static final Set<String> RUN_STATE_EVENTS = Set.of("STOP", "RESUME", "RESET", "SHUTDOWN", "POWERDOWN",
            "SUSPEND", "WAKEUP", "GUEST_PANICKED", "MIGRATION");
    private static final byte[] NEGOTIATE = "{\"execute\": \"qmp_capabilities\"}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] QUERY_STATUS = "{\"execute\": \"query-status\", \"id\": \"status\"}".getBytes(StandardCharsets.US_ASCII);
    private static final long CLIENTS_EVERY_MILLIS = 1000;
    private static final long REATTACH_AFTER_MILLIS = 1000;

    private final Guest guest;
    private final StatusBoard board;
    private final Peer peer = new Peer(ProcessHandle.current().pid(), -1, -1, "status page");
    private ClientSession session;
    private String clients = "";

    private GuestObserver(Guest guest, StatusBoard board) {
        this.guest = guest;
        this.board = board;
    }

    /** Starts watching the guest; any thread. */
    public static void start(Guest guest, StatusBoard board) {
        GuestObserver observer = new GuestObserver(guest, board);
        guest.loop().execute(() -> {
            observer.attach();
            observer.readClients();
        });
    }

    private String name() {
        return guest.config().name();
    }

    /** A new session; the guest greets it once QEMU is there. */
    private void attach() {
        board.state(name(), "waiting for QEMU");
        session = new ClientSession(guest, this, Role.READONLY);
        guest.attach(session);
    }

    private void feed(byte[] command) {
        if (!session.isClosed()) {
            session.feed(command, 0, command.length, NO_FDS);
        }
    }

    private void readClients() {
        ArrayNode list = MAPPER.createArrayNode();
        try {
            for (JsonNode client : MAPPER.readTree(guest.clientsJson()).path("clients")) {
                if (!client.path("client").asText().equals(session.name())) {
                    list.add(client);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, name() + ": unreadable client list for the status page", e);
        }
        if (!list.toString().equals(clients)) {
            clients = list.toString();
            board.clients(name(), list);
        }
        guest.loop().schedule(CLIENTS_EVERY_MILLIS, this::readClients);
    }

    /** What the session sends this client: the greeting, replies, events. Never inside a feed of ours. */
    @Override
    public void send(byte[] line) {
        JsonNode message;
        try {
            message = MAPPER.readTree(line);
        } catch (IOException e) {
            LOG.log(Level.WARNING, name() + ": unreadable line for the status page", e);
            return;
        }
        if (message.has("QMP")) {
            guest.loop().execute(() -> {
                feed(NEGOTIATE);
                feed(QUERY_STATUS);
            });
        } else if (message.has("event")) {
            board.event(name(), line);
            if (RUN_STATE_EVENTS.contains(message.path("event").asText())) {
                guest.loop().execute(() -> feed(QUERY_STATUS));
            }
        } else if ("status".equals(message.path("id").asText()) && message.has("return")) {
            board.state(name(), message.path("return").path("status").asText());
        }
    }

    /** The observer feeds its session itself, a command at a time. */
    @Override
    public void setReading(boolean reading) {
    }

    /** QEMU went away: a new session waits for it to come back (--reconnect, --config). */
    @Override
    public void close(String reason) {
        if (session.isClosed()) {
            return;
        }
        session.closed(reason);
        board.state(name(), "disconnected: " + reason);
        guest.loop().schedule(REATTACH_AFTER_MILLIS, this::attach);
    }

    @Override
    public Peer peer() {
        return peer;
    }

    @Override
    public boolean carriesFds() {
        return false;
    }
}
