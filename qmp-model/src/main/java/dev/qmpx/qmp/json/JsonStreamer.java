package dev.qmpx.qmp.json;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Splits a byte stream into JSON values exactly where QEMU 7.2's monitor does, and fails where it
 * fails, with its error texts.
 *
 * <p>QEMU cannot be assumed to answer one reply per line: a bad line yields zero or many errors
 * (qemu-facts §4). A proxy that must answer malformed input itself, as QEMU would, has to split
 * the stream the same way. This is a reimplementation of the behaviour of QEMU's lexer
 * (qobject/json-lexer.c: states, lookahead, the offending byte kept in the error token, recovery up
 * to the next structural or control character) and streamer (qobject/json-streamer.c: a value ends
 * when braces and brackets balance or go negative; size and nesting limits reset the stream).
 *
 * <p>Not thread-safe: one instance per connection, fed by the thread that reads it.
 */
public final class JsonStreamer {

    /** What the streamer produces: a complete value or an error QEMU would report. */
    public sealed interface Item permits Parsed, Failed {
    }

    /** A complete, well-formed JSON value. */
    public record Parsed(JsonMessage message) implements Item {
    }

    /** Input QEMU rejects before dispatch, with QEMU's description (class GenericError, no id). */
    public record Failed(String desc) implements Item {
    }

    private enum State {
        START, RECOVERY, DQ, DQ_ESCAPE, SQ, SQ_ESCAPE, ZERO, NONZERO, NEGATIVE, MANTISSA,
        MANTISSA_DIGITS, EXP_E, EXP_SIGN, EXP_DIGITS, KEYWORD, WHITESPACE
    }

    private final JsonLimits limits;
    private final boolean buildTree;
    private final Consumer<Item> sink;

    private State state = State.START;
    /** Raw bytes of the current message, from its first token on (whitespace between tokens kept). */
    private byte[] text = new byte[256];
    private int textLength;
    /** Start offset in {@link #text} of the token being lexed, or of the skipped whitespace run. */
    private int tokenStart;
    /**
     * Where the completed tokens of the current message end: bit i set when text[i] is a token's
     * last byte. One bit per byte held, where a table of tokens (12 bytes each) made an unfinished
     * {@code [0,0,0,...} cost 13 times its size: each token's start (the first byte after the
     * previous end that is not whitespace) and type (from its bytes) are found again on emit.
     */
    private long[] tokenEnds = new long[4];
    private int tokenCount;
    private int braces;
    private int brackets;

    /**
     * @param buildTree true to parse each value into a tree (client input, which must be checked
     *     and may be rewritten); false to record only the top-level members (QEMU's output, which
     *     is only routed)
     */
    public JsonStreamer(JsonLimits limits, boolean buildTree, Consumer<Item> sink) {
        this.limits = limits;
        this.buildTree = buildTree;
        this.sink = sink;
    }

    public void feed(byte[] buf, int off, int len) {
        for (int i = off; i < off + len; i++) {
            feed(buf[i]);
        }
    }

    /** True when no partial value is buffered: the stream is between messages. */
    public boolean isIdle() {
        return tokenCount == 0 && (state == State.START || state == State.WHITESPACE || state == State.RECOVERY);
    }

    private void feed(byte b) {
        int c = b & 0xFF;
        // A terminal state reached by lookahead leaves c unconsumed: it is then lexed afresh in START.
        while (true) {
            switch (state) {
                case RECOVERY -> {
                    if (endsRecovery(c)) {
                        state = State.START;
                        continue;
                    }
                    return;
                }
                case START -> {
                    lexStart(c);
                    return;
                }
                case WHITESPACE -> {
                    if (isWhitespace(c)) {
                        if (tokenCount > 0) {
                            append(b);
                        }
                        return;
                    }
                    state = State.START;
                    continue;
                }
                case DQ, SQ -> {
                    if (c < 0x20 || c > 0xFD) {
                        error(b);
                    } else {
                        if (c == '\\') {
                            shift(b, state == State.DQ ? State.DQ_ESCAPE : State.SQ_ESCAPE);
                        } else {
                            boolean closes = (state == State.DQ && c == '"') || (state == State.SQ && c == '\'');
                            append(b);
                            if (closes) {
                                token(TokenType.STRING);
                            }
                        }
                    }
                    return;
                }
                case DQ_ESCAPE, SQ_ESCAPE -> {
                    // The lexer accepts any printable byte after a backslash; the parser judges it.
                    if (c < 0x20 || c > 0xFD) {
                        error(b);
                    } else {
                        shift(b, state == State.DQ_ESCAPE ? State.DQ : State.SQ);
                    }
                    return;
                }
                case ZERO -> {
                    if (isDigit(c)) {
                        error(b);
                        return;
                    }
                    if (c == '.') {
                        shift(b, State.MANTISSA);
                        return;
                    }
                    token(TokenType.INTEGER);
                    continue;
                }
                case NONZERO -> {
                    if (isDigit(c)) {
                        append(b);
                        return;
                    }
                    if (c == 'e' || c == 'E') {
                        shift(b, State.EXP_E);
                        return;
                    }
                    if (c == '.') {
                        shift(b, State.MANTISSA);
                        return;
                    }
                    token(TokenType.INTEGER);
                    continue;
                }
                case NEGATIVE -> {
                    if (c == '0') {
                        shift(b, State.ZERO);
                    } else if (c >= '1' && c <= '9') {
                        shift(b, State.NONZERO);
                    } else {
                        error(b);
                    }
                    return;
                }
                case MANTISSA -> {
                    if (isDigit(c)) {
                        shift(b, State.MANTISSA_DIGITS);
                    } else {
                        error(b);
                    }
                    return;
                }
                case MANTISSA_DIGITS -> {
                    if (isDigit(c)) {
                        append(b);
                        return;
                    }
                    if (c == 'e' || c == 'E') {
                        shift(b, State.EXP_E);
                        return;
                    }
                    token(TokenType.FLOAT);
                    continue;
                }
                case EXP_E -> {
                    if (c == '+' || c == '-') {
                        shift(b, State.EXP_SIGN);
                    } else if (isDigit(c)) {
                        shift(b, State.EXP_DIGITS);
                    } else {
                        error(b);
                    }
                    return;
                }
                case EXP_SIGN -> {
                    if (isDigit(c)) {
                        shift(b, State.EXP_DIGITS);
                    } else {
                        error(b);
                    }
                    return;
                }
                case EXP_DIGITS -> {
                    if (isDigit(c)) {
                        append(b);
                        return;
                    }
                    token(TokenType.FLOAT);
                    continue;
                }
                case KEYWORD -> {
                    if (c >= 'a' && c <= 'z') {
                        append(b);
                        return;
                    }
                    token(TokenType.KEYWORD);
                    continue;
                }
            }
        }
    }

    private void lexStart(int c) {
        byte b = (byte) c;
        if (isWhitespace(c)) {
            state = State.WHITESPACE;
            if (tokenCount > 0) {
                append(b);
            }
            return;
        }
        if (tokenCount == 0) {
            textLength = 0;
        }
        tokenStart = textLength;
        switch (c) {
            case '{' -> single(b, TokenType.LCURLY);
            case '}' -> single(b, TokenType.RCURLY);
            case '[' -> single(b, TokenType.LSQUARE);
            case ']' -> single(b, TokenType.RSQUARE);
            case ':' -> single(b, TokenType.COLON);
            case ',' -> single(b, TokenType.COMMA);
            case '"' -> shift(b, State.DQ);
            case '\'' -> shift(b, State.SQ);
            case '0' -> shift(b, State.ZERO);
            case '-' -> shift(b, State.NEGATIVE);
            default -> {
                if (c >= '1' && c <= '9') {
                    shift(b, State.NONZERO);
                } else if (c >= 'a' && c <= 'z') {
                    shift(b, State.KEYWORD);
                } else {
                    error(b);
                }
            }
        }
    }

    /** Consumes b into the current token and moves to next; a size failure overrides next. */
    private void shift(byte b, State next) {
        state = next;
        append(b);
    }

    private void single(byte b, TokenType type) {
        append(b);
        token(type);
    }

    private void append(byte b) {
        if (textLength == text.length) {
            text = Arrays.copyOf(text, Math.min(Math.max(text.length * 2, 256), limits.maxMessageBytes() + 1));
            tokenEnds = Arrays.copyOf(tokenEnds, (text.length >> 6) + 1);
        }
        text[textLength++] = b;
        if (textLength > limits.maxMessageBytes()) {
            fail("JSON token size limit exceeded", State.RECOVERY);
        }
    }

    private void token(TokenType type) {
        if (state == State.RECOVERY) {
            // The message was just dropped for its size by the append that completed this token.
            return;
        }
        state = State.START;
        switch (type) {
            case LCURLY -> braces++;
            case RCURLY -> braces--;
            case LSQUARE -> brackets++;
            case RSQUARE -> brackets--;
            default -> {
            }
        }
        if (braces + brackets > limits.maxNesting()) {
            fail("JSON nesting depth limit exceeded", State.START);
            return;
        }
        int last = textLength - 1;
        tokenEnds[last >> 6] |= 1L << last;
        tokenCount++;
        if (braces < 0 || brackets < 0 || (braces == 0 && brackets == 0)) {
            emit();
        }
    }

    private void emit() {
        byte[] message = Arrays.copyOf(text, textLength);
        Item item;
        try {
            item = new Parsed(new JsonParser(message, tokenTable(), tokenCount, buildTree).parse());
        } catch (JsonParser.SyntaxError e) {
            item = new Failed("JSON parse error, " + e.getMessage());
        }
        reset();
        sink.accept(item);
    }

    /** A lexical error: the token so far plus the offending byte is reported, then input is skipped. */
    private void error(byte offending) {
        byte[] stray = Arrays.copyOfRange(text, tokenStart, textLength + 1);
        stray[stray.length - 1] = offending;
        fail("JSON parse error, stray '" + QemuJson.decodeLenient(stray) + "'", State.RECOVERY);
    }

    private void fail(String desc, State next) {
        reset();
        state = next;
        sink.accept(new Failed(desc));
    }

    /**
     * The completed message's tokens for the parser: type ordinal, start, end; three ints each. Only
     * complete messages (at most --max-message-bytes) get one, for as long as they are parsed.
     */
    private int[] tokenTable() {
        int[] table = new int[tokenCount * 3];
        int at = 0;
        for (int t = 0; t < tokenCount; t++) {
            while (isWhitespace(text[at] & 0xFF)) {
                at++;
            }
            int end = nextTokenEnd(at) + 1;
            table[t * 3] = typeOf(at, end).ordinal();
            table[t * 3 + 1] = at;
            table[t * 3 + 2] = end;
            at = end;
        }
        return table;
    }

    private int nextTokenEnd(int from) {
        int word = from >> 6;
        long bits = tokenEnds[word] & (-1L << from);
        while (bits == 0) {
            bits = tokenEnds[++word];
        }
        return (word << 6) + Long.numberOfTrailingZeros(bits);
    }

    /** The type of the token text[start, end), which the lexer accepted. */
    private TokenType typeOf(int start, int end) {
        int c = text[start] & 0xFF;
        return switch (c) {
            case '{' -> TokenType.LCURLY;
            case '}' -> TokenType.RCURLY;
            case '[' -> TokenType.LSQUARE;
            case ']' -> TokenType.RSQUARE;
            case ':' -> TokenType.COLON;
            case ',' -> TokenType.COMMA;
            case '"', '\'' -> TokenType.STRING;
            default -> {
                if (c >= 'a' && c <= 'z') {
                    yield TokenType.KEYWORD;
                }
                for (int i = start; i < end; i++) {
                    if (text[i] == '.' || text[i] == 'e' || text[i] == 'E') {
                        yield TokenType.FLOAT;
                    }
                }
                yield TokenType.INTEGER;
            }
        };
    }

    private void reset() {
        tokenCount = 0;
        braces = 0;
        brackets = 0;
        Arrays.fill(tokenEnds, 0, Math.min(tokenEnds.length, (textLength >> 6) + 1), 0L);
        textLength = 0;
        if (text.length > 4096) {
            text = new byte[256];
            tokenEnds = new long[4];
        }
    }

    private static boolean endsRecovery(int c) {
        return (c < 0x20 && c != '\t') || c == '[' || c == ']' || c == '{' || c == '}' || c == ':' || c == ','
                || c >= 0xFE;
    }

    private static boolean isWhitespace(int c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }

    private static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }
}
