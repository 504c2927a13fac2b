package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Names QEMU would take from inside an image: closed for clients that are not trusted. */
class ImageNamesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String problem(String command, String arguments) throws Exception {
        return ImageNames.problem(command, JSON.readTree(arguments));
    }

    @Test
    void aCowNodeMustNameItsBacking() throws Exception {
        String file = "\"file\":{\"driver\":\"file\",\"filename\":\"/dev/fdset/5\"}";
        assertNotNull(problem("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n\"," + file + "}"));
        assertNotNull(problem("blockdev-add", "{\"driver\":\"qed\",\"node-name\":\"n\"," + file + ",\"backing\":{\"driver\":\"raw\",\"file\":\"f\"}}"));
        assertNull(problem("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n\"," + file + ",\"backing\":null}"));
        assertNull(problem("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n\"," + file + ",\"backing\":\"base\"}"));
        assertNull(problem("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n\"," + file
                + ",\"backing\":{\"driver\":\"raw\"," + file + "}}"));
        // the backing node is itself a qcow2 node that must name its own backing
        assertNotNull(problem("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n\"," + file
                + ",\"backing\":{\"driver\":\"qcow2\"," + file + "}}"));
        assertNull(problem("blockdev-add", "{\"driver\":\"raw\",\"node-name\":\"n\"," + file + "}"));
        assertNotNull(problem("blockdev-add", "{\"driver\":\"vmdk\",\"node-name\":\"n\"," + file + ",\"backing\":null}"));
    }

    @Test
    void blockDriversAreAnAllowlistAtAnyDepth() throws Exception {
        String file = "{\"driver\":\"file\",\"filename\":\"/img/a\"}";
        for (String driver : List.of("vmdk", "qcow", "qed", "vhdx", "vpc", "parallels", "dmg", "cloop", "bochs",
                "vvfat", "blkdebug", "ssh", "a-driver-of-qemu-11")) {
            String top = problem("blockdev-add", "{\"driver\":\"" + driver + "\",\"node-name\":\"n\",\"file\":" + file + "}");
            assertNotNull(top, driver);
            assertTrue(top.contains("not on the allowlist"), top);
            // under filters, as a quorum child, as a qcow2 node's backing
            assertNotNull(problem("blockdev-add", "{\"driver\":\"raw\",\"node-name\":\"n\",\"file\":{\"driver\":\"throttle\","
                    + "\"throttle-group\":\"g\",\"file\":{\"driver\":\"" + driver + "\",\"file\":" + file + "}}}"), driver);
            assertNotNull(problem("blockdev-add", "{\"driver\":\"quorum\",\"node-name\":\"n\",\"vote-threshold\":1,"
                    + "\"children\":[\"a\",{\"driver\":\"" + driver + "\",\"file\":" + file + "}]}"), driver);
            assertNotNull(problem("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n\",\"file\":" + file
                    + ",\"backing\":{\"driver\":\"" + driver + "\",\"file\":" + file + "}}"), driver);
            // a node blockdev-create opens from inline options
            assertNotNull(problem("blockdev-create", "{\"job-id\":\"j\",\"options\":{\"driver\":\"qcow2\",\"size\":1,"
                    + "\"file\":{\"driver\":\"" + driver + "\",\"file\":" + file + "}}}"), driver);
        }
        for (String driver : List.of("raw", "file", "host_device", "host_cdrom", "luks", "null-co", "null-aio",
                "throttle", "copy-on-read", "preallocate", "compress", "blkverify", "quorum", "nbd")) {
            assertNull(problem("blockdev-add", "{\"driver\":\"raw\",\"node-name\":\"n\",\"file\":{\"driver\":\"" + driver
                    + "\",\"file\":" + file + "}}"), driver);
        }
        // the format being created is the command's choice: QEMU writes its content
        assertNull(problem("blockdev-create", "{\"job-id\":\"j\",\"options\":{\"driver\":\"vmdk\",\"size\":1,\"file\":\"n\"}}"));
    }

    @Test
    void relativeBackingNamesAreNotWrittenIntoHeaders() throws Exception {
        assertNotNull(problem("block-stream", "{\"device\":\"d\",\"backing-file\":\"0\"}"));
        assertNotNull(problem("block-commit", "{\"device\":\"d\",\"backing-file\":\"base.qcow2\"}"));
        assertNotNull(problem("change-backing-file", "{\"device\":\"d\",\"image-node-name\":\"n\",\"backing-file\":\"00\"}"));
        assertNotNull(problem("blockdev-create", "{\"job-id\":\"j\",\"options\":{\"driver\":\"qcow2\",\"file\":\"f\",\"size\":1,\"backing-file\":\"0\"}}"));
        assertNull(problem("block-stream", "{\"device\":\"d\",\"backing-file\":\"/img/base.qcow2\"}"));
        assertNull(problem("block-stream", "{\"device\":\"d\",\"backing-file\":\"json:{}\"}"));
        assertNull(problem("block-stream", "{\"device\":\"d\"}"));
        assertNotNull(problem("transaction", "{\"actions\":[{\"type\":\"blockdev-add\",\"data\":{}},"
                + "{\"type\":\"block-stream\",\"data\":{\"backing-file\":\"1\"}}]}"));
    }

    @Test
    void existingImagesAreOpenedOnlyWithAnAllowedFormat() throws Exception {
        String target = "\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\"";
        for (String command : List.of("drive-backup", "drive-mirror")) {
            for (String sync : List.of("full", "top", "none")) {
                String probed = problem(command, "{" + target + ",\"sync\":\"" + sync + "\"}");
                assertNotNull(probed, command + " " + sync);
                assertTrue(probed.contains("explicit format"), probed);
                String vmdk = problem(command, "{" + target + ",\"sync\":\"" + sync + "\",\"format\":\"vmdk\"}");
                assertTrue(vmdk.contains("format 'vmdk'"), vmdk);
                // qcow2 only where QEMU opens the target without its header's backing chain
                String qcow2 = problem(command, "{" + target + ",\"sync\":\"" + sync + "\",\"format\":\"qcow2\"}");
                assertEquals(command.equals("drive-backup") && sync.equals("none"), qcow2 == null, command + " " + sync + ": " + qcow2);
                assertNull(problem(command, "{" + target + ",\"sync\":\"" + sync + "\",\"format\":\"raw\"}"));
            }
            // QEMU formats a new target itself, in the format given or the source's
            assertNull(problem(command, "{\"device\":\"d\",\"target\":\"/img/t\",\"sync\":\"full\",\"format\":\"vmdk\"}"));
        }
        String overlay = "\"node-name\":\"n\",\"snapshot-file\":\"/img/o\",\"mode\":\"existing\"";
        assertTrue(problem("blockdev-snapshot-sync", "{" + overlay + ",\"format\":\"vmdk\"}").contains("format 'vmdk'"));
        assertNotNull(problem("blockdev-snapshot-sync", "{" + overlay + ",\"format\":\"qed\"}"));
        assertNull(problem("blockdev-snapshot-sync", "{" + overlay + ",\"format\":\"qcow2\"}"));
        assertNull(problem("blockdev-snapshot-sync", "{" + overlay + ",\"format\":\"raw\"}"));
        // without a format QEMU takes qcow2 (no probing)
        assertNull(problem("blockdev-snapshot-sync", "{" + overlay + "}"));
        assertNull(problem("blockdev-snapshot-sync", "{\"node-name\":\"n\",\"snapshot-file\":\"/img/o\",\"format\":\"vmdk\"}"));
        assertNotNull(problem("transaction", "{\"actions\":[{\"type\":\"blockdev-snapshot-sync\",\"data\":{" + overlay + "}},"
                + "{\"type\":\"blockdev-snapshot-sync\",\"data\":{" + overlay + ",\"format\":\"vmdk\"}}]}"));
        assertNotNull(problem("transaction", "{\"actions\":[{\"type\":\"drive-backup\",\"data\":{" + target
                + ",\"sync\":\"none\"}}]}"));
    }

    @Test
    void imagesOpenedWithTheirHeadersChainAreRaw() throws Exception {
        assertNotNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"full\"}"));
        assertNotNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"top\",\"format\":\"qcow2\"}"));
        assertNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"full\",\"format\":\"raw\"}"));
        assertNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"sync\":\"full\"}"));
        assertNotNull(problem("transaction", "{\"actions\":[{\"type\":\"drive-backup\",\"data\":{\"device\":\"d\",\"target\":\"/t\",\"mode\":\"existing\",\"sync\":\"full\"}}]}"));
        assertNotNull(problem("blockdev-change-medium", "{\"id\":\"cd\",\"filename\":\"/img/a.qcow2\"}"));
        assertNull(problem("blockdev-change-medium", "{\"id\":\"cd\",\"filename\":\"/img/a.iso\",\"format\":\"raw\"}"));
    }
}
