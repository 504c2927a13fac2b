package dev.qmpx.shell;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LineParserTest {
    private final LineParser parser = new LineParser();

    private String command(String line) throws ShellSyntaxException {
        return parser.parse(line).orElseThrow().toString();
    }

    private String error(String line) {
        return assertThrows(ShellSyntaxException.class, () -> parser.parse(line)).getMessage();
    }

    @Test
    void aCommandWithoutArgumentsHasNoArgumentsMember() throws ShellSyntaxException {
        assertEquals("{\"execute\":\"query-status\"}", command("query-status"));
        assertEquals("{\"execute\":\"__dev.qmpx_snapshot\"}", command("  __dev.qmpx_snapshot  "));
    }

    @Test
    void argumentsAreKeyValueWords() throws ShellSyntaxException {
        assertEquals("{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/\"}}", command("qom-list path=/"));
        assertEquals("{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"r0\","
                        + "\"file\":{\"driver\":\"null-co\",\"size\":1048576}}}",
                command("blockdev-add driver=raw node-name=r0 file.driver=null-co file.size=1048576"));
        assertEquals("{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"info block\"}}",
                command("human-monitor-command command-line='info block'"));
    }

    @Test
    void blankLinesSendNothing() throws ShellSyntaxException {
        assertEquals(Optional.empty(), parser.parse(""));
        assertEquals(Optional.empty(), parser.parse(" \t "));
    }

    @Test
    void aLineStartingWithABraceIsSentAsItIs() throws ShellSyntaxException {
        assertEquals("{\"execute\":\"query-name\",\"id\":\"mine\"}", command("{\"execute\": \"query-name\", \"id\": \"mine\"}"));
        assertEquals("{\"execute\":\"stop\"}", command("{'execute': 'stop'}"));
    }

    @Test
    void rawJsonMustBeOneObject() {
        assertEquals("bad JSON: Unexpected character ('b' (code 98)): was expecting double-quote to start field name",
                error("{bad"));
        assertTrue(error("{\"execute\": \"stop\"} {}").startsWith("bad JSON: "));
        assertTrue(error("{\"execute\": ").startsWith("bad JSON: "));
    }

    @Test
    void theFirstWordMustBeACommandName() {
        assertEquals("expected a command name first, got 'path=/'", error("path=/ qom-list"));
        assertEquals("expected a command name first, got '[1]'", error("[1]"));
        assertEquals("')' outside a transaction", error(")"));
    }

    @Test
    void badArgumentsAreErrors() {
        assertEquals("expected key=value, got 'path'", error("qom-list path"));
        assertEquals("'path' is given twice", error("qom-list path=/ path=/machine"));
        assertEquals("unclosed '{' or '[' in 'a={'", error("cmd a={"));
    }

    @Test
    void aOneLineTransactionSeparatesActionsWithSemicolons() throws ShellSyntaxException {
        assertEquals("{\"execute\":\"transaction\",\"arguments\":{\"actions\":["
                        + "{\"type\":\"block-dirty-bitmap-add\",\"data\":{\"node\":\"d0\",\"name\":\"b0\"}},"
                        + "{\"type\":\"abort\",\"data\":{}}]}}",
                command("transaction( block-dirty-bitmap-add node=d0 name=b0 ; abort )"));
        assertFalse(parser.inTransaction());
    }

    @Test
    void aTransactionOverSeveralLinesEndsWithAClosingParenthesis() throws ShellSyntaxException {
        assertEquals(Optional.empty(), parser.parse("transaction("));
        assertTrue(parser.inTransaction());
        assertEquals(LineParser.TRANSACTION_PROMPT, parser.prompt());
        assertEquals(Optional.empty(), parser.parse("block-dirty-bitmap-add node=d0 name=b0"));
        // A bad action is refused alone; the ones collected stay.
        assertEquals("expected key=value, got 'oops'", error("block-dirty-bitmap-clear oops"));
        assertEquals(Optional.empty(), parser.parse("block-dirty-bitmap-clear node=d0 name=b1"));
        assertEquals("{\"execute\":\"transaction\",\"arguments\":{\"actions\":["
                        + "{\"type\":\"block-dirty-bitmap-add\",\"data\":{\"node\":\"d0\",\"name\":\"b0\"}},"
                        + "{\"type\":\"block-dirty-bitmap-clear\",\"data\":{\"node\":\"d0\",\"name\":\"b1\"}}]}}",
                command(")"));
        assertEquals(LineParser.PROMPT, parser.prompt());
    }

    @Test
    void aTransactionCanBeDropped() throws ShellSyntaxException {
        parser.parse("transaction( abort");
        assertTrue(parser.dropTransaction());
        assertFalse(parser.dropTransaction());
        assertEquals("{\"execute\":\"query-status\"}", command("query-status"));
    }

    @Test
    void badTransactions() throws ShellSyntaxException {
        assertEquals("an empty transaction action (two ';' in a row?)", error("transaction( abort ; ; abort )"));
        // The opening line failed: no transaction is left open.
        assertFalse(parser.inTransaction());
        assertEquals("unexpected 'x=1' after the ')' that ends the transaction", error("transaction( abort ) x=1"));
        parser.parse("transaction(");
        assertEquals("a raw JSON command cannot be a transaction action (end it with ')')", error("{\"execute\": \"stop\"}"));
        assertTrue(parser.inTransaction());
    }
}
