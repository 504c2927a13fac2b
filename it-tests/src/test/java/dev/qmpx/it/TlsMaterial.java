package dev.qmpx.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The TLS side of the network front end's tests: a CA, the proxy's certificate (for *.qmpx.test,
 * localhost and 127.0.0.1), client certificates (admin by DNS SAN, readonly by subject, expired, one
 * from another CA, one whose e-mail SAN has the admin's DNS name as text), a bearer token, and the policy that maps them to roles. Clients no rule names
 * may do nothing, so each role a test sees comes from its rule.
 */
final class TlsMaterial implements AutoCloseable {
    static final String READONLY_TOKEN = "ro-token-for-tests";

    final WorkDir dir;
    final TestPki.Ca ca;
    final TestPki.Issued server;
    final TestPki.Issued admin;
    final TestPki.Issued readonly;
    final TestPki.Issued expired;
    final TestPki.Issued foreign;
    /** Its only alternative name is the e-mail name with the admin certificate's DNS name as its text. */
    final TestPki.Issued emailNamedLikeAdmin;
    final Path policy;

    private static TlsMaterial shared;

    /**
     * One set for every test class of the run (key generation is the slow part), removed when the
     * test JVM exits.
     */
    static synchronized TlsMaterial shared() {
        if (shared == null) {
            try {
                shared = new TlsMaterial();
            } catch (Exception e) {
                throw new IllegalStateException("cannot make the test PKI", e);
            }
            TlsMaterial made = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    made.close();
                } catch (Exception e) {
                    System.err.println("test PKI " + made.dir.path + " not removed: " + e);
                }
            }, "remove-test-pki"));
        }
        return shared;
    }

    private TlsMaterial() throws Exception {
        dir = new WorkDir();
        ca = TestPki.ca(dir.path, "qmpx-test-ca");
        server = ca.issue(dir.path, "server", "CN=qmpx proxy,O=qmpx-test", List.of("*.qmpx.test", "localhost", "127.0.0.1"), true);
        admin = ca.issue(dir.path, "admin", "CN=admin,O=qmpx-test", List.of("admin.qmpx.test"), false);
        readonly = ca.issue(dir.path, "ro", "CN=ro,O=qmpx-test", List.of(), false);
        expired = ca.issue(dir.path, "expired", "CN=admin,O=qmpx-test", List.of("admin.qmpx.test"), false,
                Instant.now().minus(Duration.ofDays(3)), Instant.now().minus(Duration.ofDays(1)));
        foreign = TestPki.ca(dir.path, "other-ca").issue(dir.path, "foreign", "CN=admin,O=qmpx-test",
                List.of("admin.qmpx.test"), false);
        emailNamedLikeAdmin = ca.issue(dir.path, "email", "CN=mail,O=qmpx-test", List.of("email:admin.qmpx.test"), false);
        long uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        String tokenSha256 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(READONLY_TOKEN.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        policy = Files.writeString(dir.resolve("policy.json"), "{\"roles\": {\"nobody\": {\"allow\": [], \"events\": false}}, "
                + "\"rules\": [{\"uid\": " + uid + ", \"role\": \"admin\"}, {\"san\": \"dns:admin.qmpx.test\", \"role\": \"admin\"}, "
                + "{\"subject\": \"CN=ro,O=qmpx-test\", \"role\": \"readonly\"}, "
                + "{\"token-sha256\": \"" + tokenSha256 + "\", \"role\": \"readonly\"}], \"default\": \"nobody\"}");
    }

    /** The proxy options for one listener (e.g. --listen-tls) on a free port, with this material and policy. */
    List<String> options(String listenOption, String... more) {
        List<String> options = new ArrayList<>(List.of(listenOption, "127.0.0.1:0", "--tls-cert", server.cert().toString(),
                "--tls-key", server.key().toString(), "--tls-ca", ca.cert().toString(), "--policy", policy.toString()));
        options.addAll(List.of(more));
        return options;
    }

    @Override
    public void close() throws Exception {
        dir.close();
    }
}
