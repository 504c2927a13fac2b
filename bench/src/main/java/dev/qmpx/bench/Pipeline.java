package dev.qmpx.bench;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.List;

/**
 * Drives pipelined clients from one thread with one Selector: each client keeps a window of
 * commands outstanding and sends one more for every reply, until the run's commands are answered.
 * The clients' channels are non-blocking and belong to this pipeline's thread from construction
 * to {@link #close()}.
 */
final class Pipeline implements Closeable {
    private final List<QmpChannel> clients;
    private final Selector selector;

    Pipeline(List<QmpChannel> clients) throws IOException {
        this.clients = List.copyOf(clients);
        this.selector = Selector.open();
        for (int i = 0; i < clients.size(); i++) {
            clients.get(i).nonBlocking().channel().register(selector, SelectionKey.OP_READ, i);
        }
    }

    /** Sends total commands (split evenly) and returns the nanoseconds until the last reply. */
    long run(ByteBuffer command, int window, int total) throws IOException {
        int n = clients.size();
        int[] target = new int[n];
        int[] sent = new int[n];
        int[] answered = new int[n];
        ByteBuffer[] batches = new ByteBuffer[window + 1];
        for (int k = 1; k <= window; k++) {
            batches[k] = repeated(command, k);
        }
        int unfinished = 0;
        for (int i = 0; i < n; i++) {
            target[i] = total / n + (i < total % n ? 1 : 0);
            if (target[i] > 0) {
                unfinished++;
            }
        }
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            int first = Math.min(window, target[i]);
            if (first > 0) {
                clients.get(i).send(batches[first]);
                sent[i] = first;
            }
        }
        while (unfinished > 0) {
            if (selector.select(10_000) == 0) {
                throw new IOException("no reply within 10 s; " + unfinished + " clients unfinished");
            }
            for (SelectionKey key : selector.selectedKeys()) {
                int i = (Integer) key.attachment();
                QmpChannel client = clients.get(i);
                if (client.readAvailable() < 0) {
                    throw new IOException("client " + i + " closed by the peer");
                }
                int replies = 0;
                String line;
                while ((line = client.pollLine()) != null) {
                    if (!line.startsWith("{\"return\"")) {
                        throw new IOException("client " + i + " got " + line);
                    }
                    replies++;
                }
                if (replies == 0) {
                    continue;
                }
                boolean wasUnfinished = answered[i] < target[i];
                answered[i] += replies;
                int more = Math.min(replies, target[i] - sent[i]);
                if (more > 0) {
                    client.send(more <= window ? batches[more] : repeated(command, more));
                    sent[i] += more;
                }
                if (wasUnfinished && answered[i] >= target[i]) {
                    unfinished--;
                }
            }
            selector.selectedKeys().clear();
        }
        return System.nanoTime() - start;
    }

    private static ByteBuffer repeated(ByteBuffer command, int times) {
        ByteBuffer out = ByteBuffer.allocateDirect(command.remaining() * times);
        for (int k = 0; k < times; k++) {
            out.put(command.duplicate());
        }
        return out.flip();
    }

    @Override
    public void close() throws IOException {
        selector.close();
    }
}
