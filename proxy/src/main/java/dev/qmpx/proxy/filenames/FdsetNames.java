package dev.qmpx.proxy.filenames;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fdset rule for file names, applied to every name QEMU would open ({@link QemuFileName}):
 * {@code qemu_open} takes a name that starts with {@code /dev/fdset/} as an fdset, and
 * {@code qemu_parse_fd} (strtol: signs, spaces, leading zeros) reads its number. The one form the
 * proxy maps is {@code /dev/fdset/DIGITS} naming one of the client's own sets, which becomes the
 * upstream set; any other name that mentions {@code /dev/fdset/} is refused, since passing it on
 * could reach another client's set.
 *
 * @param upstream the upstream id of one of the client's sets, or null when the client has no such set
 * @param trusted whether the client may pass uncertain readings that have no escapes (admin)
 */
public record FdsetNames(LongFunction<Long> upstream, boolean trusted) {
    static final String PREFIX = "/dev/fdset/";
    private static final Pattern FDSET_PATH = Pattern.compile("/dev/fdset/(\\d{1,18})");

    /** @return the string as it goes upstream, or null when it stays as it is */
    public String rewrite(String value) throws QemuFileName.Refused {
        return QemuFileName.rewrite(value, this::map, trusted);
    }

    private String map(String name) throws QemuFileName.Refused {
        if (!name.contains(PREFIX)) {
            return null;
        }
        Matcher m = FDSET_PATH.matcher(name);
        if (!m.matches()) {
            throw new QemuFileName.Refused("qmpx: '" + QemuFileName.abbreviate(name) + "' mentions /dev/fdset/ in a "
                    + "form the proxy cannot map to this client's fdsets; use the path /dev/fdset/N on its own");
        }
        Long set = upstream.apply(Long.parseLong(m.group(1)));
        if (set == null) {
            throw new QemuFileName.Refused("Could not dup FD for " + name
                    + ": no such fdset for this client (qmpx keeps fdsets per client)");
        }
        return PREFIX + set;
    }

    /** The client's own sets (client ids) that a string names, however QEMU would read it; unreadable parts name none. */
    public static List<Long> clientSets(String value) {
        List<Long> found = new ArrayList<>();
        try {
            QemuFileName.rewrite(value, name -> {
                Matcher m = FDSET_PATH.matcher(name);
                if (m.matches()) {
                    found.add(Long.parseLong(m.group(1)));
                }
                return null;
            }, true);
        } catch (QemuFileName.Refused e) {
            // Refused later, where the command's strings are mapped; nothing to add here.
        }
        return found;
    }

    /** Whether any string in the value may name an fdset as QEMU reads it (or cannot be read for sure). */
    public static boolean mentionsFdset(JsonNode node) {
        if (node.isTextual()) {
            try {
                return new FdsetNames(id -> null, false).rewrite(node.textValue()) != null;
            } catch (QemuFileName.Refused e) {
                return true;
            }
        }
        for (JsonNode child : node) {
            if (mentionsFdset(child)) {
                return true;
            }
        }
        return false;
    }
}
