package dev.qmpx.it;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A WebSocket client by hand over an {@link SSLSocket}, for what a well-behaved client (the JDK's,
 * a browser) never does: never reading, never answering a ping, stopping half way through its
 * request. Frames it sends are masked, as a client's must be. The test thread owns it.
 */
final class RawWebSocket implements AutoCloseable {
    /** A frame the server sent: its opcode and payload. */
    record Frame(int opcode, byte[] payload) {
        static final int TEXT = 1;
        static final int CLOSE = 8;
        static final int PING = 9;
    }

    final SSLSocket socket;
    private final OutputStream out;
    private final DataInputStream in;

    private RawWebSocket(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.out = socket.getOutputStream();
        this.in = new DataInputStream(socket.getInputStream());
    }

    /**
     * A TLS connection with a small receive buffer (so a client that does not read fills it soon),
     * handshake done, nothing sent yet.
     */
    static RawWebSocket connect(SSLContext tls, int port) throws IOException {
        SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket();
        socket.setReceiveBufferSize(4096);
        socket.setSendBufferSize(64 * 1024);
        socket.connect(new InetSocketAddress("127.0.0.1", port), (int) GuestFixture.TIMEOUT.toMillis());
        socket.setSoTimeout((int) GuestFixture.TIMEOUT.toMillis());
        socket.startHandshake();
        return new RawWebSocket(socket);
    }

    /** Connects and upgrades at the path; the 101 response is read and checked. */
    static RawWebSocket open(SSLContext tls, int port, String path) throws IOException {
        RawWebSocket ws = connect(tls, port);
        ws.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        String head = ws.readHead();
        if (!head.startsWith("HTTP/1.1 101")) {
            throw new IOException("upgrade refused: " + head);
        }
        return ws;
    }

    void write(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /**
     * The same masked frame (payload up to 125 bytes, all a control frame may carry) count times,
     * to go out in one write (one TLS record up to 16 KiB).
     */
    static byte[] frames(int opcode, byte[] payload, int count) {
        byte[] mask = {1, 2, 3, 4};
        ByteArrayOutputStream frames = new ByteArrayOutputStream((payload.length + 6) * count);
        for (int n = 0; n < count; n++) {
            frames.write(0x80 | opcode);
            frames.write(0x80 | payload.length);
            frames.write(mask, 0, 4);
            for (int i = 0; i < payload.length; i++) {
                frames.write(payload[i] ^ mask[i % 4]);
            }
        }
        return frames.toByteArray();
    }

    /** The HTTP response's status line and headers. */
    private String readHead() throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            head.append((char) in.readUnsignedByte());
        }
        return head.toString();
    }

    /** The next frame the server sends (unfragmented, as the proxy sends them). */
    Frame next() throws IOException {
        int opcode = in.readUnsignedByte() & 0x0f;
        long length = in.readUnsignedByte() & 0x7f;
        if (length == 126) {
            length = in.readUnsignedShort();
        } else if (length == 127) {
            length = in.readLong();
        }
        byte[] payload = new byte[(int) length];
        in.readFully(payload);
        return new Frame(opcode, payload);
    }

    /**
     * Whether the server closes the connection within the timeout: what it sends meanwhile is
     * read and dropped.
     */
    boolean closedWithin(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] drain = new byte[8192];
        while (System.nanoTime() < deadline) {
            socket.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            try {
                if (in.read(drain) < 0) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                return false;
            } catch (EOFException | javax.net.ssl.SSLException | java.net.SocketException e) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
