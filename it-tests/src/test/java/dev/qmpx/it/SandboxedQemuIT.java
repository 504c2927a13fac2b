package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A QEMU that cannot open any image (it runs as uid 65534; the images are root's, mode 600) still
 * takes disks: the proxy has the broker open them and passes the fds.
 */
class SandboxedQemuIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    @Test
    void blockdevAddThroughTheProxyUsesBrokerFdsWhereQemuItselfIsRefused() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Files.setPosixFilePermissions(dir.path, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path qemuDir = Files.createDirectories(dir.resolve("q"));
            Files.setAttribute(qemuDir, "unix:uid", 65534);
            Path images = Files.createDirectories(dir.resolve("img"));
            Files.setPosixFilePermissions(images, PosixFilePermissions.fromString("rwx------"));
            Path disk = qcow2(images.resolve("disk.qcow2"));
            Path readOnlyDisk = qcow2(images.resolve("ro.qcow2"));
            Path notQcow2 = Files.writeString(images.resolve("raw.img"), "not a qcow2 image");
            Path unlisted = qcow2(images.resolve("unlisted.qcow2"));
            Path direct = qemuDir.resolve("direct.sock");
            try (BrokerProcess broker = BrokerProcess.start(dir.path);
                 QemuProcess qemu = QemuProcess.start(qemuDir, List.of("-qmp", "unix:" + direct + ",server=on,wait=off"),
                         List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))) {
                broker.admin("register", "guest", "vm1");
                broker.allow("vm1", disk, "rw", false, false, false);
                broker.allow("vm1", readOnlyDisk, "r", false, false, false);
                broker.allow("vm1", notQcow2, "rw", false, false, false);
                Path listen = dir.resolve("p.sock");
                try (ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), List.of("--qemu", qemu.socket().toString(),
                        "--listen", listen.toString(), "--broker", broker.hook("vm1").toString()));
                     QmpClient client = QmpClient.negotiated(listen, TIMEOUT);
                     QmpClient directClient = QmpClient.negotiated(direct, TIMEOUT)) {
                    String add = "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"qcow2\", \"node-name\": \"%s\", "
                            + "\"file\": {\"driver\": \"file\", \"filename\": \"%s\"}%s}, \"id\": \"%s\"}";
                    // QEMU itself may not open the image.
                    String refused = directClient.execute(String.format(add, "d", disk, "", "direct"), TIMEOUT);
                    assertTrue(refused.contains("Permission denied"), refused);
                    // Through the proxy it can, read-write...
                    assertEquals("{\"return\": {}, \"id\": \"rw\"}", client.execute(String.format(add, "disk0", disk, "", "rw"), TIMEOUT));
                    // ...and read-only where the whitelist allows only reading.
                    assertEquals("{\"return\": {}, \"id\": \"ro\"}", client.execute(String.format(add, "disk1", readOnlyDisk,
                            ", \"read-only\": true", "ro"), TIMEOUT));
                    String nodes = client.execute("{\"execute\": \"query-named-block-nodes\"}", TIMEOUT);
                    assertTrue(nodes.contains("\"node-name\": \"disk0\"") && nodes.contains("\"node-name\": \"disk1\""), nodes);
                    // Writes through the node reach the image.
                    assertTrue(client.execute("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": "
                            + "\"qemu-io disk0 \\\"write -P 0x5a 0 4k\\\"\"}}", TIMEOUT).startsWith("{\"return\": "));
                    // The broker's refusals reach the client, and nothing reaches QEMU.
                    String denied = client.execute(String.format(add, "x", readOnlyDisk, "", "ro-as-rw"), TIMEOUT);
                    assertTrue(denied.startsWith("{\"id\": \"ro-as-rw\", \"error\": {\"class\": \"GenericError\", \"desc\": "
                            + "\"qmpx broker refused " + readOnlyDisk + ": PermissionDenied: the whitelist allows r"), denied);
                    assertTrue(client.execute(String.format(add, "y", unlisted, "", "unlisted"), TIMEOUT)
                            .contains("is not in vm1's whitelist"));
                    // QEMU refuses the command: the client sees its own path, and the fdset goes away.
                    String notImage = client.execute(String.format(add, "z", notQcow2, "", "bad"), TIMEOUT);
                    assertTrue(notImage.startsWith("{\"id\": \"bad\", \"error\": "), notImage);
                    assertTrue(!notImage.contains("/dev/fdset/"), notImage);
                    Await.until("only the two nodes' fdsets left", TIMEOUT, () -> count(query(directClient), "\"fdset-id\"") == 2);
                    assertTrue(query(directClient).contains("\"opaque\": \"qmpx1:guest:-1:" + disk + "\""), "a node's fdset is tagged as the guest's, with its real path");
                    // Without the broker, commands naming files are refused; queries go on.
                    broker.close();
                    String unreachable = client.execute(String.format(add, "w", disk, "", "no-broker"), TIMEOUT);
                    assertTrue(unreachable.contains("is not reachable") && unreachable.contains("refused until it is"), unreachable);
                    assertTrue(client.execute("{\"execute\": \"query-status\"}", TIMEOUT).contains("\"running\": true"));
                    // A restarted broker (its whitelist kept) is picked up again without touching the proxy.
                    try (BrokerProcess again = BrokerProcess.start(dir.path)) {
                        assertEquals("{\"return\": {}, \"id\": \"back\"}", client.execute(String.format(add, "disk2", readOnlyDisk,
                                ", \"read-only\": true", "back"), TIMEOUT));
                    }
                }
            }
            // The write made through the broker's fd is in the image file on the host.
            assertTrue(new String(Files.readAllBytes(disk), java.nio.charset.StandardCharsets.ISO_8859_1)
                    .contains("\u005a".repeat(4096)), "4 KiB of 0x5a written by the guest's node");
        }
    }

    private static String query(QmpClient direct) {
        try {
            return direct.execute("{\"execute\": \"query-fdsets\"}", TIMEOUT);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static int count(String text, String part) {
        return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }

    private static Path qcow2(Path path) throws Exception {
        assertEquals(0, new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", path.toString(), "16M")
                .inheritIO().start().waitFor());
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        return path;
    }
}
