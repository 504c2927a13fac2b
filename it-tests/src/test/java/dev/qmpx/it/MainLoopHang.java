package dev.qmpx.it;

import dev.qmpx.client.QmpClient;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Blocks QEMU's main loop on demand with a real QEMU (qemu-facts §5): a blockdev-add of a FIFO
 * makes QEMU open it for reading, which blocks until a writer appears. Opening the FIFO for writing
 * releases it; QEMU then answers "'file' driver requires ... to be a regular file".
 */
final class MainLoopHang {
    private final Path fifo;

    private MainLoopHang(Path fifo) {
        this.fifo = fifo;
    }

    /** Sends the blocking command with the given raw id and waits until QEMU's main loop is stuck. */
    static MainLoopHang begin(QmpClient client, Path dir, long qemuPid, String rawId) throws IOException, InterruptedException {
        Path fifo = dir.resolve("hang-" + System.nanoTime() + ".fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        if (mkfifo.waitFor() != 0) {
            throw new IOException("mkfifo failed");
        }
        client.send("{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\", \"node-name\": \"hang"
                + System.nanoTime() + "\", \"filename\": \"" + fifo + "\", \"read-only\": true}, \"id\": " + rawId + "}");
        Path wchan = Path.of("/proc/" + qemuPid + "/task/" + qemuPid + "/wchan");
        Await.until("QEMU's main loop blocked opening " + fifo, Duration.ofSeconds(20),
                () -> read(wchan).contains("wait_for_partner"));
        return new MainLoopHang(fifo);
    }

    /** Lets QEMU's open complete: the command then fails and QEMU goes on. */
    void release() throws IOException {
        new FileOutputStream(fifo.toFile()).close();
    }

    String expectedError() {
        return "'file' driver requires '" + fifo + "' to be a regular file";
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }
}
