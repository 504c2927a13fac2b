package dev.qmpx.gateway.client;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;

/** How a line of the session (reply or event, ending in CRLF) goes on the wire. */
public enum Framing {
    /** A byte stream (TCP, TLS): the line as QEMU writes it on its own socket. */
    LINES {
        @Override
        Object encode(byte[] line) {
            return Unpooled.wrappedBuffer(line);
        }
    },
    /** WebSocket: one JSON message per text frame, without the line end. */
    TEXT_FRAMES {
        @Override
        Object encode(byte[] line) {
            int length = line.length;
            while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) {
                length--;
            }
            return new TextWebSocketFrame(Unpooled.wrappedBuffer(line, 0, length));
        }
    };

    abstract Object encode(byte[] line);
}
