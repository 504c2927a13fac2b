package dev.qmpx.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Checks on disk images from the host side: how tests see that a file was or was not touched. */
final class ImageFiles {
    private ImageFiles() {
    }

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    /** {@code qemu-img check} passes; --force-share because a running QEMU may hold the image's lock. */
    static void assertIntact(Path image) throws Exception {
        assertEquals(0, new ProcessBuilder("qemu-img", "check", "-q", "--force-share", image.toString())
                .inheritIO().start().waitFor(), image + " intact");
    }

    /** Runs a qemu-io command on the image from the host, read-only; returns its output. */
    static String qemuIo(Path image, String command) throws Exception {
        Process io = new ProcessBuilder("qemu-io", "--force-share", "-r", "-c", command, image.toString())
                .redirectErrorStream(true).start();
        String out = new String(io.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, io.waitFor(), out);
        return out;
    }
}
