package dev.qmpx.gateway.tls;

import dev.qmpx.proxy.policy.RemoteIdentity;
import dev.qmpx.proxy.policy.SubjectAltName;
import io.netty.channel.Channel;

import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.net.InetSocketAddress;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/** What a TLS session says about its client: the certificate's names, the SNI name it asked for. */
public final class ClientCertificates {
    /** Subject alternative name types policy rules can name, by their GeneralName tag (RFC 5280). */
    private static final Map<Integer, SubjectAltName.Type> NAME_TYPES = Map.of(1, SubjectAltName.Type.EMAIL,
            2, SubjectAltName.Type.DNS, 6, SubjectAltName.Type.URI, 7, SubjectAltName.Type.IP);

    private ClientCertificates() {
    }

    /** The client's address as {@code ip:port}, for logs. */
    public static String address(Channel channel) {
        return channel.remoteAddress() instanceof InetSocketAddress inet
                ? inet.getAddress().getHostAddress() + ":" + inet.getPort() : String.valueOf(channel.remoteAddress());
    }

    /**
     * The identity of a client whose handshake succeeded: its certificate's subject (RFC 2253) and
     * alternative names when it presented one (the trust manager has checked it against the CA),
     * else a subject of null.
     */
    public static RemoteIdentity identity(SSLSession session, String address, String tokenSha256) {
        X509Certificate certificate;
        try {
            certificate = (X509Certificate) session.getPeerCertificates()[0];
        } catch (SSLPeerUnverifiedException e) {
            return new RemoteIdentity(address, null, List.of(), tokenSha256);
        }
        List<SubjectAltName> sans = new ArrayList<>();
        try {
            Collection<List<?>> names = certificate.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> name : names) {
                    SubjectAltName.Type type = NAME_TYPES.get((Integer) name.get(0));
                    if (type != null) {
                        // Typed, so that an e-mail name never passes for the DNS name with the same text.
                        sans.add(new SubjectAltName(type, String.valueOf(name.get(1))));
                    }
                }
            }
        } catch (CertificateParsingException | IllegalArgumentException e) {
            // A certificate the CA signed with an unreadable extension (or an empty name) still has its subject.
            sans.clear();
        }
        return new RemoteIdentity(address, certificate.getSubjectX500Principal().getName(), sans, tokenSha256);
    }

    /** The host name the client sent with SNI, or null. */
    public static String serverName(SSLSession session) {
        if (session instanceof ExtendedSSLSession extended) {
            for (SNIServerName name : extended.getRequestedServerNames()) {
                if (name instanceof SNIHostName host) {
                    return host.getAsciiName();
                }
            }
        }
        return null;
    }
}
