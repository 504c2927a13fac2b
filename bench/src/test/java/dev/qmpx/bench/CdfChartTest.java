package dev.qmpx.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CdfChartTest {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static Distribution spread(long from, long to) {
        long[] nanos = new long[2000];
        for (int i = 0; i < nanos.length; i++) {
            nanos[i] = from + (to - from) * i / nanos.length;
        }
        return Distribution.of(nanos);
    }

    @Test
    void writesADecodablePngOfTheChartsSizeWithBothSeriesColours(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("cdf.png");
        new CdfChart("test", List.of(new CdfChart.Series("direct", spread(50_000, 60_000)),
                new CdfChart.Series("proxy", spread(60_000, 80_000)))).write(file);
        BufferedImage image = ImageIO.read(file.toFile());
        assertNotNull(image, "not a decodable image");
        assertEquals(CdfChart.WIDTH, image.getWidth());
        assertEquals(CdfChart.HEIGHT, image.getHeight());
        assertTrue(contains(image, 0x1f77b4), "the first series' colour is drawn");
        assertTrue(contains(image, 0xff7f0e), "the second series' colour is drawn");
    }

    private static boolean contains(BufferedImage image, int rgb) {
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xffffff) == rgb) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void tickStepsAreOneTwoOrFiveTimesAPowerOfTen() {
        assertEquals(1, CdfChart.niceStep(0.8));
        assertEquals(2, CdfChart.niceStep(1.3));
        assertEquals(5, CdfChart.niceStep(4.9));
        assertEquals(10, CdfChart.niceStep(7));
        assertEquals(0.2, CdfChart.niceStep(0.15), 1e-12);
    }

    @Test
    void refusesNoSeries() {
        assertThrows(IllegalArgumentException.class, () -> new CdfChart("empty", List.of()));
    }
}
