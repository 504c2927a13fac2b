package dev.qmpx.proxy.policy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.qmpx.qmp.catalogue.CommandCatalogue;
import dev.qmpx.qmp.catalogue.CommandClass;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Policy rules (guests, unix credentials, certificates, tokens) and the roles' explicit tables. */
class PolicyTest {
    private static final String TOKEN_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    @TempDir
    Path dir;

    private Policy load(String json) throws IOException {
        return Policy.load(Files.writeString(dir.resolve("policy.json"), json));
    }

    private static RemoteIdentity certificate(String subject, SubjectAltName... sans) {
        return new RemoteIdentity("192.0.2.1:5000", subject, List.of(sans), null);
    }

    private static SubjectAltName dns(String name) {
        return new SubjectAltName(SubjectAltName.Type.DNS, name);
    }

    @Test
    void certificateSubjectsAlternativeNamesAndTokensMapToRoles() throws IOException {
        Policy policy = load("{\"roles\": {\"nobody\": {\"allow\": []}}, \"rules\": ["
                + "{\"uid\": 0, \"role\": \"admin\"},"
                + "{\"subject\": \"CN=backup,O=example\", \"role\": \"operator\"},"
                + "{\"listener\": \"tls:0.0.0.0:4444\", \"san\": \"dns:mgmt.example.com\", \"role\": \"admin\"},"
                + "{\"token-sha256\": \"" + TOKEN_SHA + "\", \"role\": \"readonly\"}], \"default\": \"nobody\"}");
        assertEquals("operator", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, certificate("CN=backup,O=example")).name());
        assertEquals("admin", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, certificate("CN=x", dns("mgmt.example.com"))).name());
        assertEquals("admin", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, certificate("CN=x", dns("MGMT.Example.com"))).name(),
                "DNS names compare case-insensitively");
        assertEquals("nobody", policy.roleFor("vm1", "ws:0.0.0.0:4443", -1, -1, certificate("CN=x", dns("mgmt.example.com"))).name(),
                "the rule names another listener");
        assertEquals("readonly", policy.roleFor("vm1", "ws:0.0.0.0:4443", -1, -1,
                new RemoteIdentity("192.0.2.1:5000", null, List.of(), TOKEN_SHA)).name());
        assertEquals("nobody", policy.roleFor("vm1", "ws:0.0.0.0:4443", -1, -1, certificate("CN=root")).name(),
                "a network client never matches a uid rule");
        assertEquals("admin", policy.roleFor("vm1", "/run/vm1.sock", 0, 0, null).name(), "a unix client by uid");
        assertEquals("nobody", policy.roleFor("vm1", "/run/vm1.sock", 5, 5, null).name(), "certificate rules never match a unix client");
        assertTrue(policy.knowsToken(TOKEN_SHA));
        assertFalse(policy.knowsToken(TOKEN_SHA.replace('9', '8')));
    }

    @Test
    void anEmailNameNeverMatchesADnsRuleWithTheSameText() throws IOException {
        Policy policy = load("{\"rules\": [{\"san\": \"dns:mgmt.example.com\", \"role\": \"admin\"},"
                + "{\"san\": \"email:ops@Example.COM\", \"role\": \"operator\"}, {\"san\": \"ip:::1\", \"role\": \"readonly\"}]}");
        RemoteIdentity email = certificate("CN=x", new SubjectAltName(SubjectAltName.Type.EMAIL, "mgmt.example.com"));
        assertSame(Role.NONE, policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, email));
        RemoteIdentity uri = certificate("CN=x", new SubjectAltName(SubjectAltName.Type.URI, "mgmt.example.com"));
        assertSame(Role.NONE, policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, uri));
        assertEquals("operator", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1,
                certificate("CN=x", new SubjectAltName(SubjectAltName.Type.EMAIL, "ops@example.com"))).name(),
                "an e-mail address's domain compares case-insensitively");
        assertSame(Role.NONE, policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1,
                certificate("CN=x", new SubjectAltName(SubjectAltName.Type.EMAIL, "OPS@example.com"))), "its local part exactly");
        assertEquals("readonly", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1,
                certificate("CN=x", new SubjectAltName(SubjectAltName.Type.IP, "0:0:0:0:0:0:0:1"))).name());
        IOException untyped = assertThrows(IOException.class, () -> load("{\"rules\": [{\"san\": \"mgmt.example.com\", \"role\": \"admin\"}]}"));
        assertTrue(untyped.getMessage().contains("'mgmt.example.com' names no type: write dns:NAME, email:ADDRESS, uri:URI or ip:ADDRESS"),
                untyped.getMessage());
        IOException badIp = assertThrows(IOException.class, () -> load("{\"rules\": [{\"san\": \"ip:example.com\", \"role\": \"admin\"}]}"));
        assertTrue(badIp.getMessage().contains("'san'"), badIp.getMessage());
    }

    @Test
    void rulesNamingGuestsApplyToThoseGuestsOnlyComparedCaseInsensitively() throws IOException {
        Policy policy = load("{\"rules\": [{\"subject\": \"CN=vm1-admin\", \"guests\": [\"VM1\"], \"role\": \"admin\"}],"
                + " \"default\": \"readonly\"}");
        assertEquals("admin", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, certificate("CN=vm1-admin")).name());
        assertEquals("readonly", policy.roleFor("vm2", "tls:0.0.0.0:4444", -1, -1, certificate("CN=vm1-admin")).name());
        IOException empty = assertThrows(IOException.class, () -> load("{\"rules\": [{\"guests\": [], \"role\": \"admin\"}]}"));
        assertTrue(empty.getMessage().contains("'guests' must be a non-empty array of guest names"), empty.getMessage());
    }

    @Test
    void withoutADefaultAnUnmatchedClientHasNoRoleAndTheSummarySaysSo() throws IOException {
        Policy policy = load("{\"rules\": [{\"uid\": 0, \"role\": \"admin\"}]}");
        assertSame(Role.NONE, policy.roleFor("vm1", "/run/vm1.sock", 1000, 1000, null));
        assertFalse(Role.NONE.allows("query-status"));
        assertFalse(Role.NONE.events());
        assertTrue(policy.summary().contains("no \"default\": clients no rule matches get no role and are refused"), policy.summary());
        assertSame(Role.ADMIN, Policy.everyoneAdmin().roleFor("vm1", "/run/vm1.sock", 1000, 1000, null));
    }

    @Test
    void builtInRolesAreExplicitListsNotNamePatterns() {
        assertTrue(Role.READONLY.allows("query-status"));
        assertFalse(Role.READONLY.allows("query-foo"), "an unknown query-like name is not a query");
        assertFalse(Role.READONLY.allows("qom-list-properties"));
        assertFalse(Role.READONLY.allows("device-list-properties"));
        assertFalse(Role.READONLY.allows("stop"));
        assertTrue(Role.OPERATOR.allows("stop"));
        assertTrue(Role.OPERATOR.allows("device_add"));
        for (String refused : List.of("quit", "human-monitor-command", "getfd", "add-fd", "closefd", "remove-fd",
                "query-fdsets", "object-add", "qom-list-properties", "__dev.qmpx_job-break", "query-foo")) {
            assertFalse(Role.OPERATOR.allows(refused), refused);
        }
        assertTrue(Role.ADMIN.allows("__dev.qmpx_job-break"));
    }

    @Test
    void everyReadonlyCommandIsAQueryThatNeverWaitsForTheJob() {
        RoleTables.READONLY.keySet().forEach(command -> assertEquals(CommandClass.QUERY, CommandCatalogue.classify(command), command));
    }

    @Test
    void migrationUrisMayNotRunAShellForAnOperator() {
        ArgumentRule rule = Role.OPERATOR.rule("migrate");
        assertInstanceOf(ArgumentRule.Allowed.class, rule.check(uri("tcp:192.0.2.9:4444")));
        assertInstanceOf(ArgumentRule.Allowed.class, rule.check(uri("unix:/run/vm1-migrate.sock")));
        ArgumentRule.Refused exec = assertInstanceOf(ArgumentRule.Refused.class, rule.check(uri("exec:cat > /tmp/x")));
        assertEquals("with 'uri' 'exec:cat > /tmp/x' (allowed schemes: tcp: unix: vsock: rdma:)", exec.why());
        assertInstanceOf(ArgumentRule.Refused.class, Role.OPERATOR.rule("migrate-incoming").check(uri("fd:mine")));
        assertSame(ArgumentRule.ANY, Role.ADMIN.rule("migrate"));
    }

    @Test
    void anOperatorMakesQemuListenOnlyOnNetworkAddressesNeverOnAUnixPathItWouldUnlink() throws IOException {
        ArgumentRule nbd = Role.OPERATOR.rule("nbd-server-start");
        assertInstanceOf(ArgumentRule.Allowed.class, nbd.check(json("{\"addr\": {\"type\": \"inet\","
                + " \"data\": {\"host\": \"127.0.0.1\", \"port\": \"10809\"}}}")));
        assertInstanceOf(ArgumentRule.Allowed.class, nbd.check(json("{\"addr\": {\"type\": \"vsock\","
                + " \"data\": {\"cid\": \"2\", \"port\": \"10809\"}}}")));
        ArgumentRule.Refused unix = assertInstanceOf(ArgumentRule.Refused.class, nbd.check(json("{\"addr\":"
                + " {\"type\": \"unix\", \"data\": {\"path\": \"/tmp/x/important.txt\"}}}")));
        assertEquals("with 'addr' of type 'unix' (allowed types: inet, vsock)", unix.why());
        assertInstanceOf(ArgumentRule.Refused.class, nbd.check(json("{\"addr\": {\"type\": \"fd\", \"data\": {\"str\": \"x\"}}}")));
        assertInstanceOf(ArgumentRule.Refused.class, nbd.check(json("{\"addr\": {\"data\": {\"path\": \"/tmp/y\"}}}")));
        ArgumentRule incoming = Role.OPERATOR.rule("migrate-incoming");
        assertInstanceOf(ArgumentRule.Allowed.class, incoming.check(uri("tcp:0:4444")));
        assertInstanceOf(ArgumentRule.Refused.class, incoming.check(uri("unix:/tmp/x/important.txt")));
        assertInstanceOf(ArgumentRule.Refused.class, Role.OPERATOR.rule("migrate-recover").check(uri("unix:/tmp/x")));
        ArgumentRule export = Role.OPERATOR.rule("block-export-add");
        assertInstanceOf(ArgumentRule.Allowed.class, export.check(json("{\"type\": \"nbd\", \"id\": \"e\", \"node-name\": \"d\"}")));
        for (String type : List.of("vhost-user-blk", "fuse", "vduse-blk")) {
            assertInstanceOf(ArgumentRule.Refused.class, export.check(json("{\"type\": \"" + type + "\", \"id\": \"e\","
                    + " \"node-name\": \"d\", \"addr\": {\"type\": \"unix\", \"path\": \"/tmp/x\"}}")), type);
        }
        assertSame(ArgumentRule.ANY, Role.ADMIN.rule("nbd-server-start"));
    }

    @Test
    void anOperatorNamesNoSecretObjectAtAnyDepthUnlessThePolicyGrantsTheCommandByName() throws IOException {
        String curl = "{\"driver\": \"raw\", \"node-name\": \"n\", \"file\": {\"driver\": \"https\","
                + " \"url\": \"https://192.0.2.9/x\", \"password-secret\": \"admin-sec\"}}";
        ArgumentRule.Refused refused = assertInstanceOf(ArgumentRule.Refused.class,
                Role.OPERATOR.rule("blockdev-add").check(json(curl)));
        assertEquals("with 'file.password-secret' (a secret object: only a role granted the command by name may name one)",
                refused.why());
        assertInstanceOf(ArgumentRule.Refused.class, Role.OPERATOR.rule("blockdev-create").check(json("{\"job-id\": \"j\","
                + " \"options\": {\"driver\": \"qcow2\", \"file\": \"f\", \"size\": 1,"
                + " \"encrypt\": {\"format\": \"luks\", \"key-secret\": \"admin-sec\"}}}")));
        assertInstanceOf(ArgumentRule.Refused.class, Role.OPERATOR.rule("blockdev-reopen").check(json("{\"options\":"
                + " [{\"driver\": \"luks\", \"node-name\": \"n\", \"file\": \"f\", \"key-secret\": \"s\"}]}")));
        assertInstanceOf(ArgumentRule.Refused.class, Role.OPERATOR.rule("block-export-add").check(json("{\"type\": \"nbd\","
                + " \"id\": \"e\", \"node-name\": \"d\", \"x\": {\"proxy-password-secret\": \"s\"}}")));
        assertInstanceOf(ArgumentRule.Allowed.class, Role.OPERATOR.rule("blockdev-add").check(json("{\"driver\": \"qcow2\","
                + " \"node-name\": \"n\", \"file\": {\"driver\": \"file\", \"filename\": \"/srv/secret\"}}")),
                "a value is not a member name");
        Policy policy = load("{\"roles\": {\"crypt\": {\"allow\": [\"@operator\", \"blockdev-add\"]}},"
                + " \"rules\": [{\"uid\": 1, \"role\": \"crypt\"}]}");
        assertSame(ArgumentRule.ANY, policy.roleFor("vm1", "l", 1, 1, null).rule("blockdev-add"));
    }

    private static ObjectNode json(String text) throws IOException {
        return (ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(text);
    }

    @Test
    void qomGetAsksQemuForTheObjectsTypeWithTheClientsOwnPath() {
        ObjectNode arguments = JsonNodeFactory.instance.objectNode().put("path", "secret0").put("property", "data");
        ArgumentRule.Probe probe = assertInstanceOf(ArgumentRule.Probe.class, Role.READONLY.rule("qom-get").check(arguments));
        assertEquals("qom-get", probe.command());
        assertEquals("{\"path\":\"secret0\",\"property\":\"type\"}", probe.arguments().toString());
        assertEquals("on an object of type 'secret'", probe.refusal().apply(new TextNode("secret")));
        assertEquals("on an object of type 'secret_keyring'", probe.refusal().apply(new TextNode("secret_keyring")));
        assertNull(probe.refusal().apply(new TextNode("container")));
    }

    @Test
    void policiesNarrowAndWidenTheTables() throws IOException {
        Policy policy = load("{\"roles\": {\"backup\": {\"allow\": [\"@query\", \"blockdev-backup\", \"job-*\"]},"
                + " \"inspector\": {\"allow\": [\"@readonly\", \"qom-list-properties\"], \"deny\": [\"query-pci\"]},"
                + " \"mover\": {\"allow\": [\"@operator\", \"migrate\"]}},"
                + " \"rules\": [{\"uid\": 1, \"role\": \"backup\"}, {\"uid\": 2, \"role\": \"inspector\"}, {\"uid\": 3, \"role\": \"mover\"}]}");
        Role backup = policy.roleFor("vm1", "l", 1, 1, null);
        assertTrue(backup.allows("job-dismiss") && backup.allows("query-block") && !backup.allows("stop"));
        assertInstanceOf(ArgumentRule.ObjectTypeNot.class, backup.rule("qom-get"), "@query keeps the table's rule");
        Role inspector = policy.roleFor("vm1", "l", 2, 2, null);
        assertSame(ArgumentRule.ANY, inspector.rule("qom-list-properties"), "a policy may allowlist introspection");
        assertFalse(inspector.allows("query-pci"), "deny narrows");
        assertSame(ArgumentRule.ANY, policy.roleFor("vm1", "l", 3, 3, null).rule("migrate"), "named by the policy: any URI");
        IOException unknown = assertThrows(IOException.class,
                () -> load("{\"roles\": {\"x\": {\"allow\": [\"@queries\"]}}, \"rules\": []}"));
        assertTrue(unknown.getMessage().contains("role 'x': unknown table '@queries'"), unknown.getMessage());
    }

    private static ObjectNode uri(String uri) {
        return JsonNodeFactory.instance.objectNode().put("uri", uri);
    }

    @Test
    void malformedNetworkRulesAreRefusedWithTheRule() {
        IOException badToken = assertThrows(IOException.class,
                () -> load("{\"rules\": [{\"token-sha256\": \"secret\", \"role\": \"admin\"}]}"));
        assertTrue(badToken.getMessage().contains("'token-sha256' must be 64 lower-case hex digits"), badToken.getMessage());
        IOException emptySubject = assertThrows(IOException.class,
                () -> load("{\"rules\": [{\"subject\": \"\", \"role\": \"admin\"}]}"));
        assertTrue(emptySubject.getMessage().contains("'subject' must be a non-empty string"), emptySubject.getMessage());
        IOException typo = assertThrows(IOException.class, () -> load("{\"rules\": [{\"sans\": \"a\", \"role\": \"admin\"}]}"));
        assertTrue(typo.getMessage().contains("unknown member 'sans' in a rule"), typo.getMessage());
        IOException nothing = assertThrows(IOException.class, () -> load("{\"rules\": [{\"role\": \"admin\"}]}"));
        assertTrue(nothing.getMessage().contains("a rule needs one of"), nothing.getMessage());
    }
}
