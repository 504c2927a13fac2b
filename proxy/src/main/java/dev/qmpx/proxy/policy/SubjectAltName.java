package dev.qmpx.proxy.policy;

import java.net.InetAddress;

/**
 * One subject alternative name of a client certificate, with its type: a policy's
 * {@code "san": "dns:mgmt.example.com"} matches only a DNS name, never an e-mail address or URI
 * that happens to have the same text. DNS names compare case-insensitively (as DNS does), as does
 * an e-mail address's domain; IP addresses compare as addresses ({@code ::1} is
 * {@code 0:0:0:0:0:0:0:1}); URIs and e-mail local parts exactly.
 */
public record SubjectAltName(Type type, String value) {
    /** The name types a rule can match, by their prefix in a rule. */
    public enum Type {
        DNS("dns"), EMAIL("email"), URI("uri"), IP("ip");

        final String prefix;

        Type(String prefix) {
            this.prefix = prefix;
        }
    }

    public SubjectAltName {
        if (value.isEmpty()) {
            throw new IllegalArgumentException("an empty " + type.prefix + " name");
        }
        if (type == Type.IP) {
            value = InetAddress.ofLiteral(value).getHostAddress(); // refuses anything but an address literal
        }
    }

    /** A rule's {@code TYPE:VALUE}, e.g. {@code dns:mgmt.example.com}, {@code ip:192.0.2.7}. */
    public static SubjectAltName parse(String rule) {
        int colon = rule.indexOf(':');
        if (colon > 0) {
            for (Type type : Type.values()) {
                if (type.prefix.equals(rule.substring(0, colon))) {
                    return new SubjectAltName(type, rule.substring(colon + 1));
                }
            }
        }
        throw new IllegalArgumentException("'" + rule + "' names no type: write dns:NAME, email:ADDRESS, uri:URI or ip:ADDRESS");
    }

    /** Whether a certificate's name is the one this rule names. */
    public boolean matches(SubjectAltName presented) {
        if (presented.type != type) {
            return false;
        }
        return switch (type) {
            case DNS -> value.equalsIgnoreCase(presented.value);
            case EMAIL -> sameEmail(value, presented.value);
            case URI, IP -> value.equals(presented.value);
        };
    }

    private static boolean sameEmail(String a, String b) {
        int atA = a.lastIndexOf('@');
        int atB = b.lastIndexOf('@');
        if (atA < 0 || atB < 0) {
            return a.equals(b);
        }
        return a.substring(0, atA).equals(b.substring(0, atB)) && a.substring(atA).equalsIgnoreCase(b.substring(atB));
    }

    @Override
    public String toString() {
        return type.prefix + ":" + value;
    }
}
