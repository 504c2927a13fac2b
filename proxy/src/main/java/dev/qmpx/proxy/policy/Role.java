package dev.qmpx.proxy.policy;

import dev.qmpx.qmp.catalogue.CommandCatalogue;
import dev.qmpx.qmp.catalogue.CommandClass;

import java.util.List;
import java.util.regex.Pattern;

/**
 * What a client may do: command patterns it may run ({@code *} matches any characters;
 * {@code @query} stands for every read-only command), patterns it may not (checked first), and
 * whether it receives events.
 */
public record Role(String name, List<String> allow, List<String> deny, boolean events) {
    public static final Role ADMIN = new Role("admin", List.of("*"), List.of(), true);
    /** Everything but ending the guest, the human monitor, and passing fds (grant them in a policy). */
    public static final Role OPERATOR = new Role("operator", List.of("*"),
            List.of("quit", "human-monitor-command", "getfd", "add-fd", "closefd", "remove-fd", "query-fdsets"), true);
    public static final Role READONLY = new Role("readonly", List.of("@query"), List.of(), true);

    public Role {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
    }

    public boolean allows(String command) {
        for (String pattern : deny) {
            if (matches(pattern, command)) {
                return false;
            }
        }
        for (String pattern : allow) {
            if (matches(pattern, command)) {
                return true;
            }
        }
        return false;
    }

    private static boolean matches(String pattern, String command) {
        if (pattern.equals("@query")) {
            return CommandCatalogue.classify(command) == CommandClass.QUERY;
        }
        // DOTALL: a name may hold any character QEMU's parser accepts (\r, \n escapes); without it
        // "*" failed for such a name, and admin got a refusal where QEMU says CommandNotFound.
        return Pattern.compile(("\\Q" + pattern + "\\E").replace("*", "\\E.*\\Q"), Pattern.DOTALL).matcher(command).matches();
    }
}
