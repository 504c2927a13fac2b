package dev.qmpx.qmp.json;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Test helpers: feed bytes to a {@link JsonStreamer} and describe what it emits. */
public final class Streams {
    private Streams() {
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Bytes from UTF-8 text and raw byte values (Integers). */
    public static byte[] bytes(Object... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (Object part : parts) {
            switch (part) {
                case String s -> out.writeBytes(utf8(s));
                case Integer b -> out.write(b);
                default -> throw new IllegalArgumentException(String.valueOf(part));
            }
        }
        return out.toByteArray();
    }

    public static String text(JsonMessage m) {
        return new String(m.text(), StandardCharsets.UTF_8);
    }

    /** All items for input fed in one call, default client limits, trees built. */
    public static List<JsonStreamer.Item> items(byte[] input) {
        return items(input, JsonLimits.CLIENT_DEFAULT, true, Math.max(1, input.length));
    }

    public static List<JsonStreamer.Item> items(String input) {
        return items(utf8(input));
    }

    public static List<JsonStreamer.Item> items(byte[] input, JsonLimits limits, boolean buildTree, int chunk) {
        List<JsonStreamer.Item> out = new ArrayList<>();
        JsonStreamer streamer = new JsonStreamer(limits, buildTree, out::add);
        for (int off = 0; off < input.length; off += chunk) {
            streamer.feed(input, off, Math.min(chunk, input.length - off));
        }
        return out;
    }

    /** "ok <text>" for a parsed value, "error <desc>" for a failure. */
    public static String describe(JsonStreamer.Item item) {
        return switch (item) {
            case JsonStreamer.Parsed p -> "ok " + text(p.message());
            case JsonStreamer.Failed f -> "error " + f.desc();
        };
    }

    public static List<String> describeAll(List<JsonStreamer.Item> items) {
        return items.stream().map(Streams::describe).toList();
    }

    /** The only item, which must be a parsed value. */
    public static JsonMessage single(String input) {
        List<JsonStreamer.Item> items = items(input);
        if (items.size() != 1 || !(items.getFirst() instanceof JsonStreamer.Parsed p)) {
            throw new AssertionError("expected one parsed value for " + input + ", got " + describeAll(items));
        }
        return p.message();
    }
}
