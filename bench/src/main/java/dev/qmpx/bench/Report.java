package dev.qmpx.bench;

import java.nio.file.Path;
import java.util.List;

/** What one benchmark found: its tables, the charts it wrote, and notes on how to read them. */
public record Report(String name, List<String> notes, List<TextTable> tables, List<Path> charts) {
    public Report {
        notes = List.copyOf(notes);
        tables = List.copyOf(tables);
        charts = List.copyOf(charts);
    }
}
