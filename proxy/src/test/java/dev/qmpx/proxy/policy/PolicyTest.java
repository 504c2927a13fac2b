package dev.qmpx.proxy.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Policy rules for network clients: certificate subject and alternative names, bearer tokens. */
class PolicyTest {
    private static final String TOKEN_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    @TempDir
    Path dir;

    private Policy load(String json) throws IOException {
        return Policy.load(Files.writeString(dir.resolve("policy.json"), json));
    }

    private static RemoteIdentity certificate(String subject, String... sans) {
        return new RemoteIdentity("192.0.2.1:5000", subject, List.of(sans), null);
    }

    @Test
    void certificateSubjectsAlternativeNamesAndTokensMapToRoles() throws IOException {
        Policy policy = load("{\"roles\": {\"nobody\": {\"allow\": []}}, \"rules\": ["
                + "{\"uid\": 0, \"role\": \"admin\"},"
                + "{\"subject\": \"CN=backup,O=example\", \"role\": \"operator\"},"
                + "{\"listener\": \"tls:0.0.0.0:4444\", \"san\": \"mgmt.example.com\", \"role\": \"admin\"},"
                + "{\"token-sha256\": \"" + TOKEN_SHA + "\", \"role\": \"readonly\"}], \"default\": \"nobody\"}");
        assertEquals("operator", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, certificate("CN=backup,O=example")).name());
        assertEquals("admin", policy.roleFor("vm1", "tls:0.0.0.0:4444", -1, -1, certificate("CN=x", "mgmt.example.com")).name());
        assertEquals("nobody", policy.roleFor("vm1", "ws:0.0.0.0:4443", -1, -1, certificate("CN=x", "mgmt.example.com")).name(),
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
