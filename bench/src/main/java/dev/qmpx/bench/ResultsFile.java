package dev.qmpx.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;

/** results.md: the machine and every report as markdown, ready to paste into the README. */
public final class ResultsFile {
    private ResultsFile() {
    }

    public static String markdown(Machine machine, List<Report> reports) {
        StringBuilder out = new StringBuilder("## Benchmarks (`bin/qmpx bench`, ").append(LocalDate.now()).append(")\n\n");
        out.append(machine.table().markdown()).append('\n');
        for (Report report : reports) {
            out.append("### ").append(report.name()).append("\n\n");
            for (String note : report.notes()) {
                out.append(note).append("\n\n");
            }
            for (TextTable table : report.tables()) {
                out.append(table.markdown()).append('\n');
            }
            for (Path chart : report.charts()) {
                out.append("![").append(chart.getFileName()).append("](").append(chart.getFileName()).append(")\n\n");
            }
        }
        return out.toString();
    }

    public static Path write(Path dir, Machine machine, List<Report> reports) throws IOException {
        return Files.writeString(dir.resolve("results.md"), markdown(machine, reports));
    }
}
