package dev.qmpx.proxy.cli;

import dev.qmpx.broker.cli.UsageException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.CodeModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.instruction.ConstantInstruction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ToIntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A role's --help text checked as a man page: its sections, its width, its option column, and that
 * the options it names are exactly those the role accepts. Shared with bench's tests (test-jar).
 *
 * @param parser the role's option parsing, tried with each option the page names; null when the
 *     role cannot be started without doing its work (demo), where only the accepted literals count
 * @param parsers the methods whose option-shaped string constants are the options the role
 *     accepts; {@link Launcher#isHelp}, which every role answers, is always one of them
 * @param foreign options of other programs the page names (QEMU's -qmp, another role's --listen)
 */
public record HelpPage(String role, String text, Parser parser, List<ParserMethod> parsers, Set<String> foreign) {
    /** The sections a man page may have, in the order man-pages(7) gives them. */
    static final List<String> SECTIONS = List.of("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "FILES",
            "EXIT STATUS", "EXAMPLES", "SEE ALSO");
    static final Set<String> REQUIRED = Set.of("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS");
    static final int WIDTH = 80;

    private static final Pattern SECTION = Pattern.compile("[A-Z][A-Z ]*[A-Z]");
    private static final Pattern OPTION = Pattern.compile("(?<![\\w./-])--?[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*");
    /** An option line of OPTIONS: its indentation, the option with its argument, the description if on the same line. */
    private static final Pattern OPTION_LINE = Pattern.compile("( *)(-\\S+(?: \\S+)*?)(?: {2,}(\\S.*))?");
    private static final ParserMethod HELP_WORDS = new ParserMethod(Launcher.class, "isHelp");

    /** The role's option parsing, as the role runs it; a refusal is a {@link UsageException}. */
    @FunctionalInterface
    public interface Parser {
        void parse(String[] words) throws Exception;
    }

    /** A method that parses options: the options it accepts are the string constants it compares words with. */
    public record ParserMethod(Class<?> owner, String name) {
        Set<String> options() {
            String resource = "/" + owner.getName().replace('.', '/') + ".class";
            try (InputStream in = owner.getResourceAsStream(resource)) {
                Set<String> options = new TreeSet<>();
                for (MethodModel method : ClassFile.of().parse(in.readAllBytes()).methods()) {
                    if (method.methodName().equalsString(name)) {
                        method.code().map(CodeModel::elementStream).orElse(Stream.empty())
                                .forEach(element -> {
                                    if (element instanceof ConstantInstruction c && c.constantValue() instanceof String s
                                            && OPTION.matcher(s).matches()) {
                                        options.add(s);
                                    }
                                });
                    }
                }
                assertFalse(options.isEmpty(), owner.getName() + "." + name + " compares no option-shaped words");
                return options;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** What an entry point printed on stdout, and the status it returned. */
    public record Printed(int status, String stdout) {
    }

    /**
     * Runs an entry point (Launcher.run, Bench.run) on these words, catching what it prints. System.out
     * is the JVM's: this holds it for the test's thread, as surefire runs test methods one at a time.
     */
    public static Printed printedBy(ToIntFunction<String[]> entry, String... words) {
        PrintStream original = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            int status = entry.applyAsInt(words);
            return new Printed(status, out.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(original);
        }
    }

    /** The page, exactly, with status 0: what users see is what these checks read. */
    public void assertPrintedBy(ToIntFunction<String[]> entry, String... words) {
        assertEquals(new Printed(0, text), printedBy(entry, words), String.join(" ", words));
    }

    /** How the page is asked for, without --help: "qmpx" or "qmpx ROLE". */
    @Override
    public String toString() {
        return role.isEmpty() ? "qmpx" : "qmpx " + role;
    }

    /** Every check, each reported on its own. */
    public void check() {
        assertAll(this + " --help", this::hasTheSectionsInOrder, this::fitsTheWidth,
                this::alignsOptionDescriptions, this::namesExactlyTheAcceptedOptions, this::parserKnowsEachOption);
    }

    List<String> lines() {
        return text.lines().toList();
    }

    List<String> sections() {
        return lines().stream().filter(line -> SECTION.matcher(line).matches()).toList();
    }

    /** The lines of one section, without its heading. */
    List<String> section(String name) {
        List<String> lines = lines();
        int heading = lines.indexOf(name);
        if (heading < 0) {
            return List.of();
        }
        int start = heading + 1;
        int end = start;
        while (end < lines.size() && !SECTION.matcher(lines.get(end)).matches()) {
            end++;
        }
        return lines.subList(start, end);
    }

    void hasTheSectionsInOrder() {
        List<String> sections = sections();
        assertTrue(SECTIONS.containsAll(sections), "sections other than " + SECTIONS + ": " + sections);
        assertEquals(sections.stream().distinct().sorted(Comparator.comparing(SECTIONS::indexOf)).toList(), sections,
                "sections out of man-page order, or twice");
        assertTrue(sections.containsAll(REQUIRED), "sections " + REQUIRED + " required, got " + sections);
    }

    void fitsTheWidth() {
        assertEquals(List.of(), lines().stream().filter(line -> line.length() > WIDTH).toList(),
                "lines longer than " + WIDTH + " columns");
    }

    /**
     * In OPTIONS, every description starts in one column: after the option on its line, or on the
     * lines below it; nothing indented deeper than the options starts left of that column.
     */
    void alignsOptionDescriptions() {
        List<String> options = section("OPTIONS");
        int indent = -1;
        int column = -1;
        for (String line : options) {
            Matcher m = OPTION_LINE.matcher(line);
            if (m.matches() && (indent < 0 || m.group(1).length() == indent)) {
                indent = m.group(1).length();
                if (m.group(3) != null && column < 0) {
                    column = m.start(3);
                }
            }
        }
        assertTrue(indent >= 0 && column > indent, "no option with its description on its line in OPTIONS");
        List<String> misaligned = new ArrayList<>();
        for (String line : options) {
            int lineIndent = line.length() - line.stripLeading().length();
            Matcher m = OPTION_LINE.matcher(line);
            boolean optionLine = lineIndent == indent && m.matches();
            if (optionLine && m.group(3) != null && m.start(3) != column
                    || !optionLine && !line.isBlank() && lineIndent > indent && lineIndent < column) {
                misaligned.add(line);
            }
        }
        assertEquals(List.of(), misaligned, "descriptions not in column " + (column + 1));
    }

    Set<String> mentioned() {
        Set<String> options = new TreeSet<>();
        OPTION.matcher(text).results().forEach(r -> options.add(r.group()));
        return options;
    }

    Set<String> accepted() {
        Set<String> options = new TreeSet<>(HELP_WORDS.options());
        parsers.forEach(method -> options.addAll(method.options()));
        return options;
    }

    /** Both ways: no option the role lacks is documented, none it accepts is left out. */
    void namesExactlyTheAcceptedOptions() {
        Set<String> accepted = accepted();
        Set<String> mentioned = mentioned();
        Set<String> unexplained = new TreeSet<>(mentioned);
        unexplained.removeAll(accepted);
        unexplained.removeAll(foreign);
        Set<String> unnamed = new TreeSet<>(accepted);
        unnamed.addAll(foreign);
        unnamed.removeAll(mentioned);
        assertAll(
                () -> assertEquals(Set.of(), unexplained, "options named that the role does not accept (nor are others')"),
                () -> assertEquals(Set.of(), unnamed, "options the role accepts (or others' listed) that the page does not name"),
                () -> assertTrue(foreign.stream().noneMatch(accepted::contains), "an option listed as others' is the role's own"));
    }

    /** Each option alone: the parser may want more (a value, a required option), but must know it. */
    void parserKnowsEachOption() throws Exception {
        if (parser == null) {
            return;
        }
        List<String> unknown = new ArrayList<>();
        for (String option : mentioned()) {
            if (foreign.contains(option) || Launcher.isHelp(option)) {
                continue; // the dispatch answers -h and --help before the role's parser runs
            }
            try {
                parser.parse(new String[] {option});
            } catch (UsageException e) {
                // UsageException.unknownOption's message, whichever role's parser gave it
                if (e.getMessage().startsWith("unknown option '" + option + "'")) {
                    unknown.add(option);
                }
            }
        }
        assertEquals(List.of(), unknown, "options the parser calls unknown");
    }
}
