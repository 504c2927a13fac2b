package dev.qmpx.bench;

import dev.qmpx.proxy.cli.HelpPage;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** qmpx bench --help is a man page naming exactly the options BenchOptions accepts (see HelpPagesTest for the other roles). */
class BenchHelpTest {
    private static final HelpPage PAGE = new HelpPage("bench", BenchOptions.HELP,
            words -> BenchOptions.parse(words, Path.of("/qmpx-checkout")),
            List.of(new HelpPage.ParserMethod(BenchOptions.class, "parse")),
            // QEMU's machine option, ulimit's, and the proxy options the benchmarks use
            Set.of("-M", "-n", "--config", "--listen-tls", "--listen-ws"));

    @Test
    void isAManPageNamingExactlyTheOptionsTheParserAccepts() {
        PAGE.check();
    }

    @Test
    void isWhatBenchPrintsForHelpAndH() {
        PAGE.assertPrintedBy(Bench::run, "--help");
        PAGE.assertPrintedBy(Bench::run, "-h");
    }
}
