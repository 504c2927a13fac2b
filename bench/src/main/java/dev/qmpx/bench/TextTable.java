package dev.qmpx.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * A table of figures, printed as aligned plain text for the terminal and as a markdown table for
 * results.md. Columns after the first are right-aligned (they hold numbers).
 */
public record TextTable(String title, List<String> headers, List<List<String>> rows) {

    public TextTable {
        headers = List.copyOf(headers);
        rows = rows.stream().map(List::copyOf).toList();
        for (List<String> row : rows) {
            if (row.size() != headers.size()) {
                throw new IllegalArgumentException("row " + row + " has " + row.size() + " cells, headers " + headers.size());
            }
        }
    }

    /** Collects rows before the table is made. */
    public static final class Builder {
        private final String title;
        private final List<String> headers;
        private final List<List<String>> rows = new ArrayList<>();

        public Builder(String title, String... headers) {
            this.title = title;
            this.headers = List.of(headers);
        }

        public Builder row(String... cells) {
            rows.add(List.of(cells));
            return this;
        }

        public TextTable build() {
            return new TextTable(title, headers, rows);
        }
    }

    public String plain() {
        int[] widths = new int[headers.size()];
        for (int c = 0; c < widths.length; c++) {
            widths[c] = headers.get(c).length();
            for (List<String> row : rows) {
                widths[c] = Math.max(widths[c], row.get(c).length());
            }
        }
        StringBuilder out = new StringBuilder(title).append('\n');
        appendPlainRow(out, headers, widths);
        int total = 0;
        for (int w : widths) {
            total += w;
        }
        out.append("-".repeat(total + 2 * (widths.length - 1))).append('\n');
        for (List<String> row : rows) {
            appendPlainRow(out, row, widths);
        }
        return out.toString();
    }

    private static void appendPlainRow(StringBuilder out, List<String> cells, int[] widths) {
        StringBuilder line = new StringBuilder();
        for (int c = 0; c < cells.size(); c++) {
            String cell = cells.get(c);
            String pad = " ".repeat(widths[c] - cell.length());
            if (c > 0) {
                line.append("  ").append(pad).append(cell);
            } else {
                line.append(cell).append(pad);
            }
        }
        out.append(line.toString().stripTrailing()).append('\n');
    }

    public String markdown() {
        StringBuilder out = new StringBuilder("**").append(title).append("**\n\n");
        out.append(markdownRow(headers));
        StringBuilder rule = new StringBuilder("|");
        for (int c = 0; c < headers.size(); c++) {
            rule.append(c == 0 ? "---|" : "---:|");
        }
        out.append(rule).append('\n');
        for (List<String> row : rows) {
            out.append(markdownRow(row));
        }
        return out.toString();
    }

    private static String markdownRow(List<String> cells) {
        StringBuilder line = new StringBuilder("|");
        for (String cell : cells) {
            line.append(' ').append(cell.replace("|", "\\|")).append(" |");
        }
        return line.append('\n').toString();
    }
}
