package dev.qmpx.it;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Test certificates made at test time with BouncyCastle (never committed keys): CAs, and server
 * and client certificates they sign, valid or already expired, written as PEM (PKCS#8 keys) into
 * the test's directory for the proxy and for Python's ssl module.
 */
final class TestPki {
    private static final AtomicLong SERIALS = new AtomicLong(System.currentTimeMillis());
    private static final Duration DAY = Duration.ofDays(1);

    /** A certificate and its key, in memory and as PEM files. */
    record Issued(X509Certificate certificate, KeyPair keys, Path cert, Path key) {
        /** A client SSLContext presenting this certificate and trusting the CA (for JDK clients). */
        SSLContext clientContext(Ca trusted) throws Exception {
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            keyStore.load(null, null);
            keyStore.setKeyEntry("client", keys.getPrivate(), new char[0], new Certificate[] {certificate});
            KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keyManagers.init(keyStore, new char[0]);
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(keyManagers.getKeyManagers(), trusted.trustManagers(), null);
            return context;
        }
    }

    /** A certificate authority. */
    record Ca(Issued self) {
        Path cert() {
            return self.cert();
        }

        /** Issues a certificate valid from yesterday for a day past the given validity end. */
        Issued issue(Path dir, String file, String subject, List<String> dnsNames, boolean server) throws Exception {
            return issue(dir, file, subject, dnsNames, server, Instant.now().minus(DAY), Instant.now().plus(DAY.multipliedBy(30)));
        }

        Issued issue(Path dir, String file, String subject, List<String> dnsNames, boolean server, Instant notBefore,
                     Instant notAfter) throws Exception {
            return TestPki.issue(dir, file, subject, dnsNames, server ? KeyPurposeId.id_kp_serverAuth : KeyPurposeId.id_kp_clientAuth,
                    this, notBefore, notAfter);
        }

        javax.net.ssl.TrustManager[] trustManagers() throws Exception {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", self.certificate());
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(trust);
            return factory.getTrustManagers();
        }

        /** An SSLContext that trusts this CA and presents no certificate. */
        SSLContext anonymousClientContext() throws Exception {
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(null, trustManagers(), null);
            return context;
        }
    }

    private TestPki() {
    }

    static Ca ca(Path dir, String name) throws Exception {
        return new Ca(issue(dir, name, "CN=" + name + ",O=qmpx-test", List.of(), null, null,
                Instant.now().minus(DAY), Instant.now().plus(DAY.multipliedBy(30))));
    }

    /** @param dnsNames DNS names, IPv4 addresses and {@code email:ADDRESS} names
     * @param purpose null for a CA (self-signed when issuer is null) */
    private static Issued issue(Path dir, String file, String subject, List<String> dnsNames, KeyPurposeId purpose, Ca issuer,
                                Instant notBefore, Instant notAfter) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair keys = generator.generateKeyPair();
        // Through the JDK's parser, so the subject reads back (RFC 2253) exactly as written here.
        X500Name name = X500Name.getInstance(new javax.security.auth.x500.X500Principal(subject).getEncoded());
        X500Name issuerName = issuer == null ? name : X500Name.getInstance(issuer.self().certificate().getSubjectX500Principal().getEncoded());
        X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuerName, BigInteger.valueOf(SERIALS.incrementAndGet()),
                Date.from(notBefore), Date.from(notAfter), name, keys.getPublic());
        JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
        builder.addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(keys.getPublic()));
        builder.addExtension(Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(
                issuer == null ? keys.getPublic() : issuer.self().certificate().getPublicKey()));
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(purpose == null));
        builder.addExtension(Extension.keyUsage, true, new KeyUsage(purpose == null
                ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature));
        if (purpose != null) {
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
        }
        if (!dnsNames.isEmpty()) {
            builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(dnsNames.stream()
                    .map(dns -> dns.startsWith("email:") ? new GeneralName(GeneralName.rfc822Name, dns.substring("email:".length()))
                            : new GeneralName(dns.matches("[0-9.]+") ? GeneralName.iPAddress : GeneralName.dNSName, dns))
                    .toArray(GeneralName[]::new)));
        }
        X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(builder.build(
                new JcaContentSignerBuilder("SHA256withECDSA").build(issuer == null ? keys.getPrivate() : issuer.self().keys().getPrivate())));
        Path cert = Files.writeString(dir.resolve(file + ".crt"), pem("CERTIFICATE", certificate.getEncoded()));
        Path key = Files.writeString(dir.resolve(file + ".key"), pem("PRIVATE KEY", keys.getPrivate().getEncoded()));
        return new Issued(certificate, keys, cert, key);
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
