package dev.qmpx.shell;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a shell line into words at whitespace, as qmp-shell does, except inside quoted strings and,
 * unlike qmp-shell, inside {@code {...}} and {@code [...]}, so that a JSON value may contain spaces.
 */
final class Words {
    private Words() {
    }

    static List<String> split(String line) throws ShellSyntaxException {
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        char quote = 0;
        int depth = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                word.append(c);
                if (c == '\\' && i + 1 < line.length()) {
                    word.append(line.charAt(++i));
                } else if (c == quote) {
                    quote = 0;
                }
                continue;
            }
            if (Character.isWhitespace(c) && depth == 0) {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
                continue;
            }
            if (word == null) {
                word = new StringBuilder();
            }
            word.append(c);
            switch (c) {
                case '"', '\'' -> quote = c;
                case '{', '[' -> depth++;
                // A stray closing bracket is an ordinary character (QEMU's parser will reject it if it matters).
                case '}', ']' -> depth = Math.max(0, depth - 1);
                default -> {
                }
            }
        }
        if (quote != 0) {
            throw new ShellSyntaxException("unterminated " + quote + "-quoted string in '" + word + "'");
        }
        if (depth != 0) {
            throw new ShellSyntaxException("unclosed '{' or '[' in '" + word + "'");
        }
        if (word != null) {
            words.add(word.toString());
        }
        return words;
    }
}
