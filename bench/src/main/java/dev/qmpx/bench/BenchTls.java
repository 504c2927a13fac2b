package dev.qmpx.bench;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Base64;
import java.util.List;

/**
 * TLS material for the remote benchmark, made with the JDK's keytool in the workspace: a
 * self-signed server certificate for 127.0.0.1 and a self-signed client certificate, which is also
 * the proxy's --tls-ca (a certificate in the trust store is its own anchor). Written as PEM for
 * the proxy; the client's SSLContext presents the one and trusts the other.
 */
record BenchTls(Path serverCert, Path serverKey, Path clientCert, SSLContext clientContext) {
    private static final char[] PASSWORD = "qmpx-bench".toCharArray();

    static BenchTls create(Path dir) throws IOException {
        KeyStore server = keytool(dir, "server", "CN=127.0.0.1", "san=ip:127.0.0.1");
        KeyStore client = keytool(dir, "client", "CN=qmpx-bench-client", null);
        try {
            Path serverCert = pem(dir.resolve("server.crt"), "CERTIFICATE", server.getCertificate("server").getEncoded());
            Path serverKey = pem(dir.resolve("server.key"), "PRIVATE KEY", server.getKey("server", PASSWORD).getEncoded());
            Path clientCert = pem(dir.resolve("client.crt"), "CERTIFICATE", client.getCertificate("client").getEncoded());
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(client, PASSWORD);
            KeyStore trusted = KeyStore.getInstance("PKCS12");
            trusted.load(null, null);
            trusted.setCertificateEntry("server", server.getCertificate("server"));
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(trusted);
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(keys.getKeyManagers(), trust.getTrustManagers(), null);
            return new BenchTls(serverCert, serverKey, clientCert, context);
        } catch (GeneralSecurityException e) {
            throw new IOException("reading the keytool keystores: " + e, e);
        }
    }

    /** The proxy options that use this material. */
    List<String> proxyOptions() {
        return List.of("--tls-cert", serverCert.toString(), "--tls-key", serverKey.toString(), "--tls-ca", clientCert.toString());
    }

    private static KeyStore keytool(Path dir, String alias, String subject, String extension) throws IOException {
        Path store = dir.resolve(alias + ".p12");
        List<String> command = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", subject,
                "-validity", "2", "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", new String(PASSWORD)));
        if (extension != null) {
            command.addAll(List.of("-ext", extension));
        }
        Process keytool = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(keytool.getInputStream().readAllBytes());
        try {
            if (keytool.waitFor() != 0) {
                throw new IOException("keytool failed: " + out);
            }
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                keyStore.load(in, PASSWORD);
            }
            return keyStore;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool", e);
        } catch (GeneralSecurityException e) {
            throw new IOException("reading " + store + ": " + e, e);
        }
    }

    private static Path pem(Path file, String type, byte[] der) throws IOException {
        return Files.writeString(file, "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der) + "\n-----END " + type + "-----\n");
    }
}
