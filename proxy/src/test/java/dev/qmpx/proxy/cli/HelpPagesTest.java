package dev.qmpx.proxy.cli;

import dev.qmpx.broker.cli.AdminCommands;
import dev.qmpx.broker.cli.BrokerCommand;
import dev.qmpx.proxy.cli.HelpPage.ParserMethod;
import dev.qmpx.proxy.demo.Demo;
import dev.qmpx.proxy.logging.LogFormat;
import dev.qmpx.shell.Shell;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every role's --help (bench's in bench's own tests) is a man page that names exactly the options the role accepts. */
class HelpPagesTest {
    private static final HelpPage TOP = new HelpPage("", Launcher.HELP, null, List.of(), Set.of());
    private static final HelpPage ADMIN = new HelpPage("allow", AdminCommands.HELP, words -> AdminCommands.run("allow", words),
            List.of(new ParserMethod(AdminCommands.class, "run")), Set.of());

    static Stream<HelpPage> pages() throws ClassNotFoundException {
        ParserMethod logFormat = new ParserMethod(LogFormat.class, "extract");
        return Stream.of(TOP,
                new HelpPage("proxy", ProxyOptions.HELP, words -> ProxyOptions.parse(LogFormat.extract(words).args()),
                        List.of(new ParserMethod(ProxyOptions.class, "parse"), logFormat), Set.of("-qmp")),
                new HelpPage("broker", BrokerCommand.HELP, words -> BrokerCommand.run(LogFormat.extract(words).args()),
                        List.of(new ParserMethod(BrokerCommand.class, "run"), logFormat), Set.of()),
                ADMIN,
                new HelpPage("snapshot", SnapshotCommand.HELP, SnapshotCommand::run,
                        List.of(new ParserMethod(SnapshotCommand.class, "run")), Set.of("--broker", "--backing-chain")),
                new HelpPage("shell", Shell.HELP, Shell::run,
                        List.of(new ParserMethod(Class.forName("dev.qmpx.shell.ShellOptions"), "parse")), Set.of("--listen", "-qmp")),
                // Demo's one option cannot be tried alone without running the demo: its accepted literals count.
                new HelpPage("demo", Demo.HELP, null, List.of(new ParserMethod(Demo.class, "run")), Set.of("-M")));
    }

    @ParameterizedTest(name = "{0} --help")
    @MethodSource("pages")
    void isAManPageNamingExactlyTheOptionsTheRoleAccepts(HelpPage page) {
        page.check();
    }

    @ParameterizedTest(name = "{0} --help")
    @MethodSource("pages")
    void isWhatTheRolePrintsForHelpAndH(HelpPage page) {
        for (String help : List.of("--help", "-h")) {
            String[] words = page.role().isEmpty() ? new String[] {help} : new String[] {page.role(), help};
            page.assertPrintedBy(Launcher::run, words);
        }
    }

    @Test
    void everyAdminCommandPrintsTheAdminPage() {
        AdminCommands.ROLES.forEach(role -> ADMIN.assertPrintedBy(Launcher::run, role, "--help"));
    }

    @Test
    void theTopLevelNamesEveryRole() {
        String description = String.join("\n", TOP.section("DESCRIPTION"));
        Stream.concat(Stream.of("proxy", "broker", "snapshot", "shell", "demo", "bench"), AdminCommands.ROLES.stream())
                .forEach(role -> assertTrue(Pattern.compile("(?m)^ +(\\w+, )*" + role + "\\b").matcher(description).find(),
                        "qmpx --help does not list " + role));
    }

    @Test
    void helpAsTheOnlyWordPrintsTheTopLevelPage() {
        TOP.assertPrintedBy(Launcher::run, "help");
    }

    @Test
    void noWordsPrintTheTopLevelPageAndFail() {
        assertEquals(new HelpPage.Printed(2, Launcher.HELP), HelpPage.printedBy(Launcher::run));
    }
}
