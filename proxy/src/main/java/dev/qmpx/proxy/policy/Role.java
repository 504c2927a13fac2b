package dev.qmpx.proxy.policy;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What a client may do: the commands it may run and whether it receives events. Entries of
 * {@code allow} and {@code deny} are command names or patterns ({@code *} matches any characters),
 * which grant any arguments, or a built-in table: {@code @readonly} (also spelled {@code @query})
 * or {@code @operator}, which grant their commands with the tables' argument rules. Deny entries
 * are checked first. Nothing else is allowed: a command's name alone never makes it a query.
 */
public record Role(String name, List<String> allow, List<String> deny, boolean events) {
    private static final Map<String, Map<String, ArgumentRule>> TABLES = Map.of("@readonly", RoleTables.READONLY,
            "@query", RoleTables.READONLY, "@operator", RoleTables.OPERATOR);

    /** Everything, as on a direct connection to QEMU. */
    public static final Role ADMIN = new Role("admin", List.of("*"), List.of(), true);
    /** The operator table (see {@link RoleTables#OPERATOR}). */
    public static final Role OPERATOR = new Role("operator", List.of("@operator"), List.of(), true);
    /** The readonly table (see {@link RoleTables#READONLY}). */
    public static final Role READONLY = new Role("readonly", List.of("@readonly"), List.of(), true);
    /** A client no policy rule gives a role: nothing at all, not even events. */
    public static final Role NONE = new Role("none", List.of(), List.of(), false);

    public Role {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        for (String entry : java.util.stream.Stream.concat(allow.stream(), deny.stream()).toList()) {
            if (entry.startsWith("@") && !TABLES.containsKey(entry)) {
                throw new IllegalArgumentException("unknown table '" + entry + "' (known: @readonly, @query, @operator)");
            }
        }
    }

    /** The rule the command's arguments must meet under this role, or null when the role refuses it. */
    public ArgumentRule rule(String command) {
        for (String entry : deny) {
            Map<String, ArgumentRule> table = TABLES.get(entry);
            if (table != null ? table.containsKey(command) : matches(entry, command)) {
                return null;
            }
        }
        ArgumentRule listed = null;
        for (String entry : allow) {
            Map<String, ArgumentRule> table = TABLES.get(entry);
            if (table == null && matches(entry, command)) {
                return ArgumentRule.ANY; // named by the policy itself: it widens the tables' rules
            }
            if (table != null && listed == null) {
                listed = table.get(command);
            }
        }
        return listed;
    }

    /**
     * Whether this is the admin role, trusted as a client of QEMU's own monitor socket is (it has
     * connection slots of its own; see UnixClients).
     */
    public boolean isAdmin() {
        return ADMIN.name.equals(name);
    }

    /** Whether the role may run the command with some arguments. */
    public boolean allows(String command) {
        return rule(command) != null;
    }

    private static boolean matches(String pattern, String command) {
        // DOTALL: a name may hold any character QEMU's parser accepts (\r, \n escapes); without it
        // "*" failed for such a name, and admin got a refusal where QEMU says CommandNotFound.
        return Pattern.compile(("\\Q" + pattern + "\\E").replace("*", "\\E.*\\Q"), Pattern.DOTALL).matcher(command).matches();
    }
}
