package dev.qmpx.gateway.client;

import dev.qmpx.proxy.downstream.ClientSession;
import dev.qmpx.proxy.downstream.ClientTransport;
import dev.qmpx.proxy.downstream.Peer;
import dev.qmpx.proxy.routing.Guest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;

import java.io.FileDescriptor;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * A network client of one guest: a netty channel on one side, a {@link ClientSession} on the
 * guest's loop on the other, the same session a unix client gets (ids, events, jobs, timeouts,
 * roles). The channel's netty thread only copies input out and posts it ({@link #received},
 * {@link #disconnected}); the session, the held input and the flags are confined to the guest's
 * loop thread (THREADS.md). Output goes through {@link Channel#writeAndFlush}, which netty hands to
 * the channel's own thread; {@link #unsent} is the one field both sides touch.
 */
public final class NetworkClient implements ClientTransport {
    private static final Logger LOG = Logger.getLogger(NetworkClient.class.getName());
    private static final FileDescriptor[] NO_FDS = new FileDescriptor[0];

    private final Channel channel;
    private final Guest guest;
    private final Peer peer;
    private final Framing framing;
    private final long outputLimit;
    /** Bytes handed to netty and not yet written to the socket: a slow reader is bounded by it. */
    private final AtomicLong unsent = new AtomicLong();
    private ClientSession session;
    private boolean reading;
    private boolean closed;
    /** Input that arrived while the session was not reading (before its greeting, under back-pressure). */
    private final ArrayDeque<byte[]> held = new ArrayDeque<>();
    /**
     * Bytes read from the channel and not yet fed to the session (posted to the loop, or held):
     * netty's thread adds, the loop subtracts. Past the client's limit the channel stops reading at
     * once, on netty's thread: waiting for the loop to say so let 128 clients queue 3 MiB each in
     * the loop's task queue and exhaust the heap before a single role check ran.
     */
    private final AtomicLong unfed = new AtomicLong();
    private final long unfedLimit;
    private final java.util.concurrent.atomic.AtomicBoolean waitingForBudget = new java.util.concurrent.atomic.AtomicBoolean();

    private NetworkClient(Channel channel, Guest guest, Peer peer, Framing framing) {
        this.channel = channel;
        this.guest = guest;
        this.peer = peer;
        this.framing = framing;
        this.outputLimit = guest.config().clientOutputLimit();
        this.unfedLimit = guest.config().clientLimits().maxMessageBytes();
    }

    /**
     * Makes the channel a session of the guest; call on the channel's thread. The channel stops
     * reading until the session is greeted and asks for input, as a unix client's socket does.
     */
    public static NetworkClient attach(Channel channel, Guest guest, Peer peer, Framing framing) {
        channel.config().setAutoRead(false);
        NetworkClient client = new NetworkClient(channel, guest, peer, framing);
        guest.loop().execute(() -> {
            client.session = new ClientSession(guest, client);
            guest.attach(client.session);
        });
        return client;
    }

    /** Input read from the channel; netty thread. The buffer stays the caller's. */
    public void received(ByteBuf bytes) {
        byte[] copy = ByteBufUtil.getBytes(bytes);
        boolean overClient = unfed.addAndGet(copy.length) > unfedLimit;
        boolean overProcess = !UnfedInput.PROCESS.charge(copy.length);
        if (overClient || overProcess) {
            channel.config().setAutoRead(false);
            if (overProcess) {
                waitForProcessBudget();
            }
        }
        guest.loop().execute(() -> input(copy));
    }

    /** Input of this many bytes was fed to the session (or dropped); loop thread. */
    private void fed(int length) {
        unfed.addAndGet(-length);
        UnfedInput.PROCESS.refund(length);
        resumeIfDue();
    }

    /** Reads again once the session reads and the client's and the process's unfed input are below their limits; loop thread. */
    private void resumeIfDue() {
        if (!reading || closed || unfed.get() > unfedLimit) {
            return;
        }
        if (UnfedInput.PROCESS.exhausted()) {
            waitForProcessBudget();
        } else {
            channel.config().setAutoRead(true);
        }
    }

    /** Once at a time per client; any thread. */
    private void waitForProcessBudget() {
        if (waitingForBudget.compareAndSet(false, true)) {
            UnfedInput.PROCESS.resumeLater(() -> {
                waitingForBudget.set(false);
                guest.loop().execute(this::resumeIfDue);
            });
        }
    }

    /** The channel closed (the client left, or the connection broke); netty thread. */
    public void disconnected(String reason) {
        guest.loop().execute(() -> {
            if (!closed) {
                closed = true;
                dropHeld();
                session.closed(reason);
            }
        });
    }

    private void input(byte[] bytes) {
        if (closed) {
            fed(bytes.length);
            return;
        }
        if (reading && held.isEmpty()) {
            session.feed(bytes, 0, bytes.length, NO_FDS);
            fed(bytes.length);
        } else {
            held.add(bytes);
        }
    }

    /** Feeds held input while the session reads; a task of its own, never inside a feed. */
    private void drain() {
        while (reading && !closed && !held.isEmpty()) {
            byte[] bytes = held.poll();
            session.feed(bytes, 0, bytes.length, NO_FDS);
            fed(bytes.length);
        }
    }

    @Override
    public void send(byte[] line) {
        if (closed) {
            return;
        }
        long pending = unsent.addAndGet(line.length);
        if (pending > outputLimit) {
            LOG.warning("disconnecting a network client that does not read its replies: " + pending
                    + " bytes pending, limit " + outputLimit + " (" + peer + ")");
            close("output limit exceeded: " + pending + " bytes pending");
            return;
        }
        channel.writeAndFlush(framing.encode(line)).addListener(written -> unsent.addAndGet(-line.length));
    }

    @Override
    public void setReading(boolean reading) {
        if (closed || this.reading == reading) {
            return;
        }
        this.reading = reading;
        if (reading && !held.isEmpty()) {
            guest.loop().execute(this::drain);
        }
        if (reading) {
            resumeIfDue();
        } else {
            channel.config().setAutoRead(false);
        }
    }

    @Override
    public void close(String reason) {
        if (closed) {
            return;
        }
        closed = true;
        dropHeld();
        channel.close();
        session.closed(reason);
    }

    private void dropHeld() {
        for (byte[] bytes : held) {
            fed(bytes.length);
        }
        held.clear();
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
