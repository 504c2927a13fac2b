package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.qmp.json.JsonText;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fdset rule over file names as QEMU 7.2 reads them: the client owns set 3 (upstream 42), not set 0. */
class FdsetNamesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<Long, Long> OWN = Map.of(3L, 42L);
    private static final FdsetNames OPERATOR = new FdsetNames(OWN::get, false);
    private static final FdsetNames ADMIN = new FdsetNames(OWN::get, true);

    private static void refused(FdsetNames names, String value) {
        assertThrows(QemuFileName.Refused.class, () -> names.rewrite(value), value);
    }

    @Test
    void theAttackOfTheIssueIsRefused() {
        refused(OPERATOR, "json:{\"driver\":\"file\",\"filename\":\"\\/dev\\/fdset\\/0\"}");
        refused(ADMIN, "json:{\"driver\":\"file\",\"filename\":\"\\/dev\\/fdset\\/0\"}");
    }

    @Test
    void escapesAreDecodedBeforeTheRule() {
        for (String spelling : List.of(
                "json:{\"filename\":\"\\u002fdev\\u002ffdset\\u002f0\"}",
                "json:{\"filename\":\"/\\u0064ev/fdset/0\"}",
                "json:{\"filename\":\"/dev/\\u0066\\u0064\\u0073\\u0065\\u0074/0\"}",
                "json:{\"filename\":\"/dev/fdset/\\u0030\"}",
                "json:{\"filename\":\"/dev\\/fdset/0\"}")) {
            refused(OPERATOR, spelling);
            refused(ADMIN, spelling);
        }
    }

    @Test
    void singleQuotesAndWhitespaceQemuAcceptsAreRead() {
        refused(OPERATOR, "json:{'driver':'file','filename':'\\/dev\\/fdset\\/0'}");
        refused(OPERATOR, "json: \t\n{ \"filename\" :\r\"\\/dev\\/fdset\\/0\" } \n");
        refused(ADMIN, "json:{'filename':\"/dev/fdset/0\"}");
    }

    @Test
    void nestedObjectsDottedKeysAndJsonInsideJsonAreRead() {
        refused(OPERATOR, "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"\\/dev\\/fdset\\/0\"}}");
        refused(OPERATOR, "json:{\"driver\":\"qcow2\",\"file.filename\":\"\\/dev\\/fdset\\/0\"}");
        refused(OPERATOR, "json:{\"driver\":\"qcow2\",\"file\":\"json:{\\\"filename\\\":\\\"\\\\/dev\\\\/fdset\\\\/0\\\"}\"}");
        refused(OPERATOR, "json:{\"a\":[{\"b\":\"\\/dev\\/fdset\\/0\"}]}");
    }

    @Test
    void fileProtocolPrefixesAreStripped() {
        refused(OPERATOR, "file:/dev/fdset/0");
        refused(OPERATOR, "host_device:/dev/fdset/0");
        refused(OPERATOR, "host_cdrom:json:{\"filename\":\"\\/dev\\/fdset\\/0\"}");
        refused(OPERATOR, "json:{\"filename\":\"file:\\/dev\\/fdset\\/0\"}");
    }

    @Test
    void formsStrtolWouldReadAreRefused() {
        for (String spelling : List.of("/dev/fdset/+0", "/dev/fdset/ 0", "/dev/fdset/-0", "/dev/fdset/0 ", "/dev/fdset/3x")) {
            refused(ADMIN, spelling);
        }
    }

    @Test
    void theClientsOwnSetIsMappedInEverySpelling() throws Exception {
        assertEquals("/dev/fdset/42", OPERATOR.rewrite("/dev/fdset/3"));
        assertEquals("/dev/fdset/42", OPERATOR.rewrite("/dev/fdset/003"));
        assertEquals("file:/dev/fdset/42", OPERATOR.rewrite("file:/dev/fdset/3"));
        String mapped = ADMIN.rewrite("json:{'driver':'qcow2','file':{'driver':'file','filename':'\\/dev\\/fdset\\/3'}}");
        assertTrue(mapped.startsWith("json:"), mapped);
        JsonNode tree = JsonText.parse(mapped.substring("json:".length()));
        assertEquals(JSON.readTree("{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"/dev/fdset/42\"}}"), tree);
        String dotted = ADMIN.rewrite("json:{\"file.filename\":\"\\u002fdev\\u002ffdset\\u002f3\",\"n\":1.5}");
        assertEquals("json:{\"file.filename\": \"/dev/fdset/42\", \"n\": 1.5}", dotted);
    }

    @Test
    void namesWithoutFdsetsAreLeftAlone() throws Exception {
        assertNull(OPERATOR.rewrite("/var/lib/images/a.qcow2"));
        assertNull(ADMIN.rewrite("json:{\"driver\":\"file\",\"filename\":\"\\/img\\/a.raw\"}"));
        assertNull(OPERATOR.rewrite("disk0"));
        assertNull(ADMIN.rewrite("file:relative.img"));
    }

    @Test
    void whatCannotBeReadForSureIsRefusedToOthersThanAdmin() throws Exception {
        for (String spelling : List.of(
                "json:{\"filename\":\"/img/a\"",            // unterminated: QEMU would not parse it
                "json:{\"filename\":\"/img/a\"} {}",        // two values
                "blkdebug::json:{\"filename\":\"/img/a\"}", // json: behind a prefix the proxy does not strip
                "drive_add 0 if=none,file=json:{\"filename\":\"/img/a\"}")) {
            refused(OPERATOR, spelling);
            assertNull(ADMIN.rewrite(spelling), spelling);
        }
        for (String spelling : List.of(
                "json:{\"filename\":\"\\/dev\\/fdset\\/0\"",
                "blkdebug::json:{\"filename\":\"\\/dev\\/fdset\\/0\"}",
                "object_add {'qom-type':'rng-random','id':'r','filename':'\\/dev\\/fdset\\/0'}")) {
            refused(OPERATOR, spelling);
            refused(ADMIN, spelling);
        }
    }

    @Test
    void jsonNamesAreForAdminOnly() throws Exception {
        // Its options could put any driver under the format the command names; blockdev-add says the same in structure.
        for (String spelling : List.of("json:{\"driver\":\"file\",\"filename\":\"/img/a.raw\"}",
                "json:{\"file\":{\"driver\":\"vmdk\",\"file\":{\"driver\":\"file\",\"filename\":\"/img/evil.vmdk\"}}}",
                "json:\"/img/a.raw\"", "file:json:{}", "host_cdrom:json:{\"filename\":\"/img/a.iso\"}")) {
            QemuFileName.Refused refusal = assertThrows(QemuFileName.Refused.class, () -> OPERATOR.rewrite(spelling), spelling);
            assertTrue(refusal.getMessage().contains("json: file names are for admin only"), refusal.getMessage());
        }
        assertNull(ADMIN.rewrite("json:{\"file\":{\"driver\":\"vmdk\",\"file\":{\"driver\":\"file\",\"filename\":\"/img/evil.vmdk\"}}}"));
    }

    @Test
    void clientSetsAreFoundInsideJson() {
        assertEquals(List.of(3L), FdsetNames.clientSets("json:{'file':{'filename':'\\/dev\\/fdset\\/3'}}"));
        assertEquals(List.of(3L), FdsetNames.clientSets("/dev/fdset/3"));
        assertEquals(List.of(), FdsetNames.clientSets("/img/a"));
    }

    @Test
    void mentionsFdsetSeesEscapedSpellings() throws Exception {
        assertTrue(FdsetNames.mentionsFdset(JSON.readTree("{\"type\":\"x\",\"data\":{\"t\":\"json:{\\\"f\\\":\\\"\\\\/dev\\\\/fdset\\\\/1\\\"}\"}}")));
        assertEquals(false, FdsetNames.mentionsFdset(JSON.readTree("{\"type\":\"x\",\"data\":{\"t\":\"/img/a\"}}")));
    }

    @Test
    void nestingIsBounded() throws Exception {
        String deep = "json:" + "[".repeat(QemuFileName.MAX_DEPTH + 1) + "\"/img/a\"" + "]".repeat(QemuFileName.MAX_DEPTH + 1);
        refused(ADMIN, deep);
        String name = "/img/a";
        // json: inside json: with arrays in each: the levels count together (and escapes double at each level)
        for (int i = 0; i < QemuFileName.MAX_DEPTH / 6 + 1; i++) {
            name = "json:" + "[".repeat(6) + dev.qmpx.qmp.json.QemuJson.quote(name) + "]".repeat(6);
        }
        refused(ADMIN, name);
        assertNull(ADMIN.rewrite("json:{\"file\": {\"file\": {\"filename\": \"json:{\\\"filename\\\": \\\"/img/a\\\"}\"}}}"));
    }
}
