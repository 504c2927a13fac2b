package dev.qmpx.bench;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Cumulative distributions of several latency series on one chart, drawn with Java2D (headless) and
 * written as PNG: x is the latency in µs, y the share of samples at or below it. The x axis ends at
 * the largest p99.9 (the max for small series) so that one outlier does not squash the curves; the
 * tables carry the max.
 */
public record CdfChart(String title, List<Series> series) {
    public static final int WIDTH = 960;
    public static final int HEIGHT = 600;

    private static final Color[] PALETTE = {
            new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd)};
    private static final int LEFT = 80;
    private static final int RIGHT = 30;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;

    public record Series(String name, Distribution distribution) {
    }

    public CdfChart {
        series = List.copyOf(series);
        if (series.isEmpty() || series.size() > PALETTE.length) {
            throw new IllegalArgumentException("1 to " + PALETTE.length + " series, not " + series.size());
        }
    }

    public void write(Path file) throws IOException {
        if (!ImageIO.write(render(), "png", file.toFile())) {
            throw new IOException("no PNG writer in this JDK");
        }
    }

    public BufferedImage render() {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            draw(g);
        } finally {
            g.dispose();
        }
        return image;
    }

    private void draw(Graphics2D g) {
        double lowest = Double.MAX_VALUE;
        double highest = 0;
        for (Series s : series) {
            Distribution d = s.distribution();
            lowest = Math.min(lowest, d.min() / 1000.0);
            highest = Math.max(highest, (d.count() >= 1000 ? d.percentile(99.9) : d.max()) / 1000.0);
        }
        double step = niceStep((highest - lowest) / 8);
        double xMin = Math.floor(lowest / step) * step;
        double xMax = Math.max(Math.ceil(highest / step) * step, xMin + step);
        int plotWidth = WIDTH - LEFT - RIGHT;
        int plotHeight = HEIGHT - TOP - BOTTOM;

        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.setColor(Color.BLACK);
        g.drawString(title, LEFT, TOP - 20);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        FontMetrics metrics = g.getFontMetrics();

        for (int i = 0; i <= 10; i++) {
            int y = TOP + plotHeight - i * plotHeight / 10;
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(LEFT, y, LEFT + plotWidth, y);
            g.setColor(Color.DARK_GRAY);
            String label = (i * 10) + " %";
            g.drawString(label, LEFT - 8 - metrics.stringWidth(label), y + 4);
        }
        for (double x = xMin; x <= xMax + step / 2; x += step) {
            int px = LEFT + (int) Math.round((x - xMin) / (xMax - xMin) * plotWidth);
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(px, TOP, px, TOP + plotHeight);
            g.setColor(Color.DARK_GRAY);
            String label = formatTick(x, step);
            g.drawString(label, px - metrics.stringWidth(label) / 2, TOP + plotHeight + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotWidth, plotHeight);
        String xLabel = "latency (µs); x axis ends at the largest p99.9";
        g.drawString(xLabel, LEFT + (plotWidth - metrics.stringWidth(xLabel)) / 2, HEIGHT - 20);

        g.setStroke(new BasicStroke(2f));
        for (int s = 0; s < series.size(); s++) {
            Distribution d = series.get(s).distribution();
            g.setColor(PALETTE[s]);
            int previousY = -1;
            for (int px = 0; px <= plotWidth; px++) {
                long nanos = Math.round((xMin + (xMax - xMin) * px / plotWidth) * 1000);
                int y = TOP + plotHeight - (int) Math.round(d.fractionAtOrBelow(nanos) * plotHeight);
                if (previousY >= 0) {
                    g.drawLine(LEFT + px - 1, previousY, LEFT + px, y);
                }
                previousY = y;
            }
        }
        drawLegend(g, metrics, LEFT + plotWidth, TOP + plotHeight);
    }

    private void drawLegend(Graphics2D g, FontMetrics metrics, int right, int bottom) {
        int widest = 0;
        for (Series s : series) {
            widest = Math.max(widest, metrics.stringWidth(s.name()));
        }
        int lineHeight = metrics.getHeight() + 4;
        int boxWidth = widest + 50;
        int boxHeight = lineHeight * series.size() + 10;
        int x = right - boxWidth - 15;
        int y = bottom - boxHeight - 15;
        g.setColor(Color.WHITE);
        g.fillRect(x, y, boxWidth, boxHeight);
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(x, y, boxWidth, boxHeight);
        for (int s = 0; s < series.size(); s++) {
            int lineY = y + 5 + lineHeight * s + lineHeight / 2;
            g.setColor(PALETTE[s]);
            g.setStroke(new BasicStroke(3f));
            g.drawLine(x + 10, lineY, x + 34, lineY);
            g.setColor(Color.BLACK);
            g.drawString(series.get(s).name(), x + 42, lineY + metrics.getAscent() / 2 - 1);
        }
    }

    /** 1, 2 or 5 times a power of ten, at least raw. */
    static double niceStep(double raw) {
        if (!(raw > 0)) {
            return 1;
        }
        double power = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double factor : new double[] {1, 2, 5}) {
            if (factor * power >= raw) {
                return factor * power;
            }
        }
        return 10 * power;
    }

    private static String formatTick(double value, double step) {
        return step >= 1 ? Long.toString(Math.round(value)) : String.format(java.util.Locale.ROOT, "%.1f", value);
    }
}
