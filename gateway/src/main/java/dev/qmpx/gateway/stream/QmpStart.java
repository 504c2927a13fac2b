package dev.qmpx.gateway.stream;

import io.netty.buffer.ByteBuf;

/**
 * Whether the first bytes of a QMP byte stream look like QMP: a client's first message is a JSON
 * object, so after optional JSON whitespace the first byte is {@code &#123;}. Anything else (an
 * HTTP request line a browser's {@code fetch} or a forged request sends, a TLS ClientHello, a
 * stray protocol) is refused before a byte of it reaches the session: an allowlist of one, rather
 * than a list of what other protocols send.
 */
enum QmpStart {
    /** Only whitespace so far (or nothing): the next bytes decide. */
    UNDECIDED,
    QMP,
    NOT_QMP;

    static QmpStart of(ByteBuf bytes) {
        for (int i = bytes.readerIndex(); i < bytes.writerIndex(); i++) {
            switch (bytes.getByte(i)) {
                case ' ', '\t', '\r', '\n' -> { }
                case '{' -> {
                    return QMP;
                }
                default -> {
                    return NOT_QMP;
                }
            }
        }
        return UNDECIDED;
    }

    /** The first bytes, printable, for the log line that says why. */
    static String excerpt(ByteBuf bytes) {
        StringBuilder out = new StringBuilder();
        for (int i = bytes.readerIndex(); i < Math.min(bytes.writerIndex(), bytes.readerIndex() + 16); i++) {
            int b = bytes.getByte(i) & 0xff;
            out.append(b >= 0x20 && b < 0x7f && b != '\\' ? String.valueOf((char) b) : String.format("\\x%02x", b));
        }
        return out.toString();
    }
}
