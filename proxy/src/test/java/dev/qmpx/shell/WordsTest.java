package dev.qmpx.shell;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WordsTest {
    @Test
    void splitsAtWhitespaceOutsideQuotesAndBrackets() throws ShellSyntaxException {
        assertEquals(List.of("cmd", "a=1", "b=x"), Words.split("  cmd\ta=1   b=x "));
        assertEquals(List.of("cmd", "a=\"x y\"", "b='p q'"), Words.split("cmd a=\"x y\" b='p q'"));
        assertEquals(List.of("cmd", "a={\"k\": [1, 2], \"j\": {\"z\": 3}}", "b=2"),
                Words.split("cmd a={\"k\": [1, 2], \"j\": {\"z\": 3}} b=2"));
    }

    @Test
    void quotesHideBracketsAndEscapedQuotes() throws ShellSyntaxException {
        assertEquals(List.of("a=\"[ {\"", "b=2"), Words.split("a=\"[ {\" b=2"));
        assertEquals(List.of("a=\"say \\\"hi there\\\"\""), Words.split("a=\"say \\\"hi there\\\"\""));
    }

    @Test
    void aStrayClosingBracketIsAnOrdinaryCharacter() throws ShellSyntaxException {
        assertEquals(List.of("a=x]", "b=1"), Words.split("a=x] b=1"));
    }

    @Test
    void unterminatedQuotesAndBracketsAreErrors() {
        assertEquals("unterminated \"-quoted string in 'a=\"x y'",
                assertThrows(ShellSyntaxException.class, () -> Words.split("cmd a=\"x y")).getMessage());
        assertEquals("unterminated '-quoted string in 'b='x'",
                assertThrows(ShellSyntaxException.class, () -> Words.split("cmd b='x")).getMessage());
        assertEquals("unclosed '{' or '[' in 'a={\"k\": [1, 2}'",
                assertThrows(ShellSyntaxException.class, () -> Words.split("cmd a={\"k\": [1, 2}")).getMessage());
    }
}
