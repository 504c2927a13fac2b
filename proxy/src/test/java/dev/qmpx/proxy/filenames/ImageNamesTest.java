package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

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
    void imagesOpenedWithTheirHeadersChainAreRaw() throws Exception {
        assertNotNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"full\"}"));
        assertNotNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"top\",\"format\":\"qcow2\"}"));
        assertNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"full\",\"format\":\"raw\"}"));
        assertNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"mode\":\"existing\",\"sync\":\"none\"}"));
        assertNull(problem("drive-backup", "{\"device\":\"d\",\"target\":\"/img/t\",\"sync\":\"full\"}"));
        assertNotNull(problem("transaction", "{\"actions\":[{\"type\":\"drive-backup\",\"data\":{\"device\":\"d\",\"target\":\"/t\",\"mode\":\"existing\",\"sync\":\"full\"}}]}"));
        assertNotNull(problem("blockdev-change-medium", "{\"id\":\"cd\",\"filename\":\"/img/a.qcow2\"}"));
        assertNull(problem("blockdev-change-medium", "{\"id\":\"cd\",\"filename\":\"/img/a.iso\",\"format\":\"raw\"}"));
    }
}
