package dev.qmpx.proxy.policy;

import java.util.List;

/**
 * What a network client proved, where a unix client has SO_PEERCRED: its TLS client certificate
 * (subject in RFC 2253 form, subject alternative names with their types) and/or a bearer token,
 * kept only as its SHA-256. Policy rules match on these as they match uid and gid.
 *
 * @param address the client's IP address and port, for logs
 * @param subject the certificate's subject, or null without a certificate
 * @param sans the certificate's DNS, e-mail, URI and IP alternative names
 * @param tokenSha256 the hex SHA-256 of the bearer token the client presented, or null
 */
public record RemoteIdentity(String address, String subject, List<SubjectAltName> sans, String tokenSha256) {
    public RemoteIdentity {
        sans = List.copyOf(sans);
    }

    @Override
    public String toString() {
        return address + (subject != null ? " certificate '" + subject + "'" : "")
                + (tokenSha256 != null ? " token sha256 " + tokenSha256.substring(0, 12) + "..." : "");
    }
}
