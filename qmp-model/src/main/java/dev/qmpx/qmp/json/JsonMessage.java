package dev.qmpx.qmp.json;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * One complete JSON value as it arrived on the wire.
 *
 * @param text the bytes from the value's first token to its last, exactly as received
 * @param tree the parsed value, or null when it was parsed shallowly (see {@link JsonStreamer})
 * @param members the top-level members with their byte spans in {@code text}, when the value is an
 *     object; empty otherwise
 */
public record JsonMessage(byte[] text, JsonNode tree, List<Member> members) {
    private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * A top-level member of an object.
     *
     * @param valueStart offset of the value's first byte in the message text
     * @param valueEnd offset just past the value's last byte
     * @param cutStart with {@code cutEnd}, the span to delete to remove the member together with
     *     one neighbouring comma, leaving a valid object
     */
    public record Member(String name, int valueStart, int valueEnd, int cutStart, int cutEnd) {
    }

    /** The parsed value: the tree when it was built, else parsed from the text (QEMU's output is JSON). */
    public JsonNode asTree() {
        if (tree != null) {
            return tree;
        }
        try {
            return MAPPER.readTree(text);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("not a JSON value", e);
        }
    }

    public boolean isObject() {
        return text.length > 0 && text[0] == '{';
    }

    public Member member(String name) {
        for (Member m : members) {
            if (m.name().equals(name)) {
                return m;
            }
        }
        return null;
    }

    public byte[] valueBytes(Member m) {
        return java.util.Arrays.copyOfRange(text, m.valueStart(), m.valueEnd());
    }
}
