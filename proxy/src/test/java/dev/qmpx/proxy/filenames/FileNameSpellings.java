package dev.qmpx.proxy.filenames;

import java.util.List;
import java.util.Random;

/**
 * Generates spellings of one file name that QEMU 7.2 would open as that name: json: objects with
 * the name under "filename", "file.filename", nested "file" objects or a json: string inside json:,
 * every character possibly escaped (\/, \\uXXXX in either case), single or double quotes, the
 * whitespace QEMU's lexer skips, and the file-posix prefixes. Seeded, so a failure names the
 * spelling and the seed that made it. Also used by the end-to-end sample in it-tests.
 */
public final class FileNameSpellings {
    private static final List<String> PREFIXES = List.of("file:", "host_device:", "host_cdrom:");
    /** Characters that change how QEMU reads a spelling: quotes, escapes, structure, separators, digits. */
    private static final String MUTANTS = "\"'\\{}/: 0u";
    private static final String[] SPACE = {" ", "\t", "\n", "\r"};

    private final Random random;

    public FileNameSpellings(long seed) {
        this.random = new Random(seed);
    }

    /** A spelling QEMU's block layer reads as {@code name} (a filename argument of bdrv_open). */
    public String spell(String name) {
        int depth = random.nextInt(3);
        return layer(name, depth);
    }

    /** The same, with one random character deleted, doubled or replaced: QEMU may or may not read it. */
    public String mutate(String spelling) {
        if (spelling.isEmpty()) {
            return spelling;
        }
        int at = random.nextInt(spelling.length());
        return switch (random.nextInt(3)) {
            case 0 -> spelling.substring(0, at) + spelling.substring(at + 1);
            case 1 -> spelling.substring(0, at + 1) + spelling.substring(at);
            default -> spelling.substring(0, at) + MUTANTS.charAt(random.nextInt(MUTANTS.length())) + spelling.substring(at + 1);
        };
    }

    private String layer(String name, int depth) {
        if (depth == 0) {
            return random.nextInt(4) == 0 ? PREFIXES.get(random.nextInt(PREFIXES.size())) + name : name;
        }
        String inner = layer(name, depth - 1);
        char quote = random.nextBoolean() ? '"' : '\'';
        String value = string(inner, quote);
        String object = switch (random.nextInt(5)) {
            case 0 -> object(quote, "driver", string("file", quote), "filename", value);
            case 1 -> object(quote, "filename", value);
            case 2 -> object(quote, "driver", string("raw", quote), "file." + "filename", value);
            case 3 -> object(quote, "driver", string("raw", quote), "file",
                    object(quote, "driver", string("file", quote), "filename", value));
            default -> object(quote, "driver", string("raw", quote), "file", value);
        };
        return "json:" + space() + object + space();
    }

    private String object(char quote, String k1, String v1, String... more) {
        StringBuilder out = new StringBuilder("{").append(space()).append(string(k1, quote)).append(space()).append(':')
                .append(space()).append(v1);
        for (int i = 0; i < more.length; i += 2) {
            out.append(space()).append(',').append(space()).append(string(more[i], quote)).append(space()).append(':')
                    .append(space()).append(more[i + 1]);
        }
        return out.append(space()).append('}').toString();
    }

    /** A JSON string literal for text, each character spelled one of the ways QEMU's parser decodes alike. */
    private String string(String text, char quote) {
        StringBuilder out = new StringBuilder().append(quote);
        for (char c : text.toCharArray()) {
            int how = random.nextInt(6);
            if (c == quote || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c >= 0x7F || how == 0) {
                out.append(String.format(random.nextBoolean() ? "\\u%04x" : "\\u%04X", (int) c));
            } else if (c == '/' && how == 1) {
                out.append("\\/");
            } else if (c == '\'' && how == 2) {
                out.append("\\'");
            } else {
                out.append(c);
            }
        }
        return out.append(quote).toString();
    }

    private String space() {
        StringBuilder out = new StringBuilder();
        while (random.nextInt(4) == 0) {
            out.append(SPACE[random.nextInt(SPACE.length)]);
        }
        return out.toString();
    }
}
