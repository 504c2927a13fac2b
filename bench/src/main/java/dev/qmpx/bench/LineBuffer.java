package dev.qmpx.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Splits a byte stream into lines (QEMU and the proxy end each with {@code \r\n}); a line is
 * returned without its ending. Bytes of an unfinished line are kept for the next feed. Used by one
 * thread at a time.
 */
public final class LineBuffer {
    private byte[] bytes = new byte[4096];
    private int start;
    private int end;
    private int scanned;

    public void feed(ByteBuffer source) {
        int n = source.remaining();
        if (end + n > bytes.length) {
            compact(n);
        }
        source.get(bytes, end, n);
        end += n;
    }

    /** The next complete line, or null until one has been fed. */
    public String poll() {
        for (int i = Math.max(scanned, start); i < end; i++) {
            if (bytes[i] == '\n') {
                int length = i - start;
                if (length > 0 && bytes[i - 1] == '\r') {
                    length--;
                }
                String line = new String(bytes, start, length, StandardCharsets.UTF_8);
                start = i + 1;
                scanned = start;
                return line;
            }
        }
        scanned = end;
        return null;
    }

    /** Bytes fed but not yet returned as part of a line. */
    public int pending() {
        return end - start;
    }

    private void compact(int incoming) {
        int kept = end - start;
        byte[] target = kept + incoming > bytes.length ? new byte[Math.max(2 * bytes.length, kept + incoming)] : bytes;
        System.arraycopy(bytes, start, target, 0, kept);
        bytes = target;
        scanned = Math.max(scanned, start) - start;
        start = 0;
        end = kept;
    }
}
