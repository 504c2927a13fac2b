package dev.qmpx.it;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The class behind issue 15's input attacks: the proxy splits and judges a client's bytes with its
 * own reimplementation of QEMU 7.2's JSON lexer, streamer and parser, so any difference from QEMU
 * is a place where the two disagree about what a client sent. Seeded random byte streams
 * (malformed JSON, deep nesting, stray quotes and brackets, unicode escapes, big numbers, partial
 * objects, many objects per line, single quotes, bytes no JSON allows) go to the proxy and to a
 * second, direct monitor of the same QEMU; the answers must be the same, byte for byte, except
 * that ids come back as the client wrote them where QEMU re-serialises them (the proxy's promise,
 * ProxyProtocolIT.idsComeBackByteForByte): ids are compared as the values QEMU makes of them.
 *
 * <p>Only harmless command names are written (queries, an unknown name, qmp_capabilities, which
 * both clients have negotiated already), and a mutation is at most a few single-byte edits with no
 * letters, so no stream can name a command that changes the guest. The seed is printed with any
 * failure; {@code -Dqmpx.fuzz.seed=N} replays it, {@code -Dqmpx.fuzz.streams=N} sets how many.
 */
class JsonDifferentialFuzzIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    /** Reads ids as deep (QEMU allows 1024 levels) and numbers as long as the streams have. */
    private static final ObjectMapper MAPPER = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder().maxNestingDepth(2048).maxNumberLength(1 << 20).build())
            .build());
    private static final String[] NAMES = {"query-status", "query-version", "query-name", "query-uuid",
        "no-such-command", "qmp_capabilities", "query-kvm"};
    /** Bytes a mutation may insert: structure, quotes, escapes, digits, controls, bytes JSON forbids; no letters. */
    private static final byte[] INSERTABLE = bytes("{}[]:,\"'\\ \t\n\r0123456789-+./", 0x00, 0x01, 0x1f, 0x7f, 0x80,
            0xc3, 0xa9, 0xe2, 0xf0, 0x9f, 0xfe, 0xff);
    private static final String[] STRINGS = {"\"\"", "\"abc\"", "'single'", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
        "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\\uFFFF\"", "\"caf\u00e9\"", "\"\\\"q\\\\\"", "\"\\/\\b\\f\\n\\r\\t\"",
        "\"\\x\"", "\"\\u12\"", "'it\\'s'"};
    /** QEMU's reset for whatever a stream left open: 0xFF is a lexical error in every state, the newline ends recovery. */
    private static final byte[] RESET = {(byte) 0xff, '\n'};
    private static final java.util.regex.Pattern NON_FINITE = java.util.regex.Pattern.compile("(?<=[\\[:,] ?)(-?inf|nan)(?=[,\\]}])");
    private static final String SENTINEL = "{\"execute\": \"query-name\", \"id\": \"sentinel\"}";
    private static final String SENTINEL_REPLY = "{\"return\": {}, \"id\": \"sentinel\"}";

    @Test
    void randomStreamsGetTheAnswersQemuGives() throws Exception {
        long seed = Long.getLong("qmpx.fuzz.seed", System.nanoTime());
        int streams = Integer.getInteger("qmpx.fuzz.streams", 300);
        Random random = new Random(seed);
        try (GuestFixture guest = GuestFixture.start(); QmpClient direct = guest.directClient(); QmpClient proxied = guest.client()) {
            for (int i = 0; i < streams; i++) {
                byte[] stream = stream(random);
                List<String> expected = answers(direct, stream);
                List<String> actual = answers(proxied, stream);
                if (!sameAnswers(expected, actual)) {
                    fail("seed " + seed + " (-Dqmpx.fuzz.seed=" + seed + "), stream " + i + ": "
                            + printable(stream) + "\nQEMU:  " + cut(expected.toString()) + "\nproxy: " + cut(actual.toString()));
                }
            }
            // Nothing the streams did changed the guest.
            assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}",
                    proxied.execute("{\"execute\": \"query-status\"}", TIMEOUT), "seed " + seed);
        }
    }

    // --- generation ---

    private static byte[] stream(Random random) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int pieces = 1 + random.nextInt(6);
        String[] separators = {"", "", "\n", " ", "\r\n", "\t"};
        for (int p = 0; p < pieces; p++) {
            out.writeBytes(piece(random));
            out.writeBytes(separators[random.nextInt(separators.length)].getBytes(StandardCharsets.US_ASCII));
        }
        return out.toByteArray();
    }

    private static byte[] piece(Random random) {
        return switch (random.nextInt(10)) {
            case 0, 1, 2 -> utf8(command(random));
            case 3, 4, 5 -> mutate(utf8(command(random)), random);
            case 6 -> utf8(nesting(random));
            case 7 -> utf8(command(random).substring(0, 1 + random.nextInt(8)));
            case 8 -> junk(random);
            default -> utf8(command(random).replace('"', '\''));
        };
    }

    /** A command built of safe parts, its members in a random order. */
    private static String command(Random random) {
        List<String> members = new ArrayList<>();
        members.add("\"execute\": \"" + NAMES[random.nextInt(NAMES.length)] + "\"");
        if (random.nextInt(3) > 0) {
            members.add("\"id\": " + id(random));
        }
        if (random.nextInt(3) == 0) {
            members.add("\"arguments\": {\"" + "ab".charAt(random.nextInt(2)) + "\": " + value(random, 0) + "}");
        }
        if (random.nextInt(8) == 0) {
            members.add("\"" + "xyz".charAt(random.nextInt(3)) + "\": " + value(random, 0));
        }
        java.util.Collections.shuffle(members, random);
        return "{" + String.join(random.nextBoolean() ? ", " : ",", members) + "}";
    }

    private static String id(Random random) {
        return switch (random.nextInt(6)) {
            case 0 -> Integer.toString(random.nextInt(1000));
            case 1 -> Long.toString(random.nextLong());
            case 2 -> "\"" + "abcd0123 ".charAt(random.nextInt(9)) + random.nextInt(100) + "\"";
            case 3 -> value(random, 0);
            case 4 -> "null";
            default -> "[" + random.nextInt(9) + ", \"x\"]";
        };
    }

    private static String value(Random random, int depth) {
        return switch (depth > 3 ? random.nextInt(6) : random.nextInt(9)) {
            case 0 -> Integer.toString(random.nextInt(2000) - 1000);
            case 1 -> bigNumber(random);
            case 2, 3 -> STRINGS[random.nextInt(STRINGS.length)];
            case 4 -> List.of("true", "false", "null").get(random.nextInt(3));
            case 5 -> Double.toString(random.nextGaussian() * Math.pow(10, random.nextInt(40) - 20));
            case 6 -> "[" + value(random, depth + 1) + (random.nextBoolean() ? ", " + value(random, depth + 1) : "") + "]";
            case 7 -> "{\"" + "kl".charAt(random.nextInt(2)) + "\": " + value(random, depth + 1) + "}";
            default -> "{}";
        };
    }

    /** Integers and floats past 64 bits and past the largest double, some of them long. */
    private static String bigNumber(Random random) {
        StringBuilder digits = new StringBuilder(random.nextBoolean() ? "-" : "");
        digits.append(1 + random.nextInt(9));
        int length = List.of(18, 19, 20, 21, 25, 40, 400, 4000).get(random.nextInt(8));
        for (int i = 1; i < length; i++) {
            digits.append(random.nextInt(10));
        }
        return switch (random.nextInt(3)) {
            case 0 -> digits.toString();
            case 1 -> digits + "." + random.nextInt(1000);
            default -> digits + "e" + (random.nextInt(700) - 350);
        };
    }

    /** Nesting around QEMU's limit of 1024, balanced or not. */
    private static String nesting(Random random) {
        int depth = List.of(3, 1023, 1024, 1025, 1100).get(random.nextInt(5));
        String open = random.nextBoolean() ? "[" : "{\"a\":";
        String close = open.equals("[") ? "]" : "}";
        int closing = random.nextInt(4) == 0 ? depth - random.nextInt(3) : depth;
        return "{\"execute\": \"query-name\", \"id\": " + open.repeat(depth) + "1" + close.repeat(Math.max(0, closing)) + "}";
    }

    /** A few single-byte edits: deletions, insertions and replacements from {@link #INSERTABLE}. */
    private static byte[] mutate(byte[] text, Random random) {
        List<Byte> bytes = new ArrayList<>();
        for (byte b : text) {
            bytes.add(b);
        }
        int edits = 1 + random.nextInt(3);
        for (int e = 0; e < edits && !bytes.isEmpty(); e++) {
            int at = random.nextInt(bytes.size());
            byte insert = INSERTABLE[random.nextInt(INSERTABLE.length)];
            switch (random.nextInt(3)) {
                case 0 -> bytes.remove(at);
                case 1 -> bytes.add(at, insert);
                default -> bytes.set(at, insert);
            }
        }
        byte[] out = new byte[bytes.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = bytes.get(i);
        }
        return out;
    }

    private static byte[] junk(Random random) {
        byte[] out = new byte[1 + random.nextInt(12)];
        for (int i = 0; i < out.length; i++) {
            out[i] = INSERTABLE[random.nextInt(INSERTABLE.length)];
        }
        return out;
    }

    // --- answers ---

    /** Every line answering the stream, up to the sentinel sent after QEMU's reset. */
    private static List<String> answers(QmpClient client, byte[] stream) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(stream);
        out.writeBytes(RESET);
        out.writeBytes(utf8(SENTINEL));
        client.send(out.toByteArray());
        List<String> lines = new ArrayList<>();
        String line;
        while (!(line = client.nextReply(TIMEOUT)).equals(SENTINEL_REPLY)) {
            lines.add(line);
        }
        return lines;
    }

    private static boolean sameAnswers(List<String> qemu, List<String> proxy) {
        if (qemu.size() != proxy.size()) {
            return false;
        }
        for (int i = 0; i < qemu.size(); i++) {
            if (!qemu.get(i).equals(proxy.get(i)) && !sameButForIdSpelling(qemu.get(i), proxy.get(i))) {
                return false;
            }
        }
        return true;
    }

    /** The lines are equal once their ids are cut out, and the ids are the same value in QEMU. */
    private static boolean sameButForIdSpelling(String qemuLine, String proxy) {
        // QEMU prints a non-finite double as %.17g does (inf, -inf, nan), which no JSON parser reads.
        String qemu = NON_FINITE.matcher(qemuLine).replaceAll(m -> switch (m.group(1)) {
            case "nan" -> "null";
            case "-inf" -> "-1e999";
            default -> "1e999";
        });
        int[] q = idSpan(qemu);
        int[] p = idSpan(proxy);
        if (q == null || p == null) {
            return false;
        }
        if (!(qemu.substring(0, q[0]) + qemu.substring(q[1])).equals(proxy.substring(0, p[0]) + proxy.substring(p[1]))) {
            return false;
        }
        return sameIdValue(qemu.substring(q[0], q[1]), proxy.substring(p[0], p[1]));
    }

    /** Where the top-level id's value is in an answer line ({"id": X, "error": ...} or {"return": ..., "id": X}). */
    private static int[] idSpan(String line) {
        try (JsonParser parser = MAPPER.createParser(line)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                parser.nextToken();
                int start = (int) parser.currentTokenLocation().getCharOffset();
                parser.skipChildren();
                parser.finishToken();
                if (name.equals("id")) {
                    return new int[] {start, (int) parser.currentLocation().getCharOffset()};
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Numbers as the doubles QEMU makes of them, strings by their characters, containers member by member. */
    private static boolean sameIdValue(String qemu, String proxy) {
        try {
            return sameValue(MAPPER.readTree(qemu), MAPPER.readTree(proxy));
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean sameValue(JsonNode qemu, JsonNode proxy) {
        if (qemu.isNumber() && proxy.isNumber()) {
            return qemu.doubleValue() == proxy.doubleValue();
        }
        if (qemu.isArray() && proxy.isArray() || qemu.isObject() && proxy.isObject()) {
            if (qemu.size() != proxy.size()) {
                return false;
            }
            Iterator<Map.Entry<String, JsonNode>> q = qemu.isObject() ? qemu.properties().iterator() : null;
            Iterator<Map.Entry<String, JsonNode>> p = proxy.isObject() ? proxy.properties().iterator() : null;
            for (int i = 0; i < qemu.size(); i++) {
                if (q != null) {
                    Map.Entry<String, JsonNode> qe = q.next();
                    Map.Entry<String, JsonNode> pe = p.next();
                    if (!qe.getKey().equals(pe.getKey()) || !sameValue(qe.getValue(), pe.getValue())) {
                        return false;
                    }
                } else if (!sameValue(qemu.get(i), proxy.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return qemu.equals(proxy);
    }

    // --- bytes ---

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] bytes(String ascii, int... more) {
        byte[] out = new byte[ascii.length() + more.length];
        for (int i = 0; i < ascii.length(); i++) {
            out[i] = (byte) ascii.charAt(i);
        }
        for (int i = 0; i < more.length; i++) {
            out[ascii.length() + i] = (byte) more[i];
        }
        return out;
    }

    private static String printable(byte[] stream) {
        StringBuilder out = new StringBuilder();
        for (byte b : stream) {
            int c = b & 0xFF;
            out.append(c >= 0x20 && c < 0x7f && c != '\\' ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return cut(out.toString());
    }

    private static String cut(String text) {
        return text.length() > 3000 ? text.substring(0, 3000) + "..." : text;
    }
}
