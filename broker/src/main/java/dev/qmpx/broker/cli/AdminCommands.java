package dev.qmpx.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.client.AdminClient;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/** {@code qmpx register|unregister|allow|revoke|whitelist|grants|status}: the broker's admin from a shell. */
public final class AdminCommands {
    public static final Set<String> ROLES = Set.of("register", "unregister", "allow", "revoke", "whitelist", "grants", "status");

    public static final String HELP = """
            NAME
                qmpx register, unregister, allow, revoke, whitelist, grants, status -
                administer a running qmpx broker

            SYNOPSIS
                qmpx register   --admin SOCKET --guest NAME [--uid UID]
                qmpx unregister --admin SOCKET --guest NAME
                qmpx allow      --admin SOCKET --guest NAME --path P [--access r|rw]
                                [--create] [--prefix] [--special]
                qmpx revoke     --admin SOCKET --guest NAME --path P
                qmpx whitelist  --admin SOCKET --guest NAME
                qmpx grants     --admin SOCKET [--guest NAME]
                qmpx status     --admin SOCKET

            DESCRIPTION
                Each command sends one request to a running broker's admin socket and
                prints its JSON answer: the result, or the broker's error.

                register    Registers guest NAME (1-64 characters of A-Z a-z 0-9 _ . -,
                            starting with a letter or digit) and creates its hook socket;
                            prints the socket's path. Registering again keeps the
                            whitelist.
                unregister  Removes the guest, its whitelist, its leases and its socket.
                allow       Adds an entry to the guest's whitelist, replacing the one of
                            the same kind (file or --prefix) for P; prints it.
                revoke      Removes the entry for P and releases the leases it covered;
                            fds already handed out stay open. Prints the entry.
                whitelist   Prints the guest's uid, entries and leases.
                grants      Prints the most recent grants (up to 1000) of the guest, or
                            of every guest: time, guest, path, access, create, pid, uid.
                status      Prints whether the broker serves opens (not when its lock
                            manager failed, with the cause) and the registered guests.

                Paths must be canonical and absolute.

            OPTIONS
                --admin SOCKET  The broker's admin socket (required).
                --guest NAME    The guest.
                --uid UID       Only this uid is served on the guest's hook socket
                                (which it then owns).
                --path P        The file, or with --prefix the directory.
                --access r|rw   Read only or read-write (default r).
                --create        The guest may create the file (exclusively: never an
                                existing one).
                --prefix        P is a directory: the entry covers every file below it.
                --special       Device nodes and FIFOs may be opened too (regular files
                                only otherwise).
                -h, --help      Show this text.

            EXIT STATUS
                0   Done.
                1   Refused by the broker (its error is printed), or the admin socket
                    could not be reached.
                2   Bad usage.

            EXAMPLES
                qmpx register --admin /run/qmpx/broker.sock --guest vm1 --uid 107
                qmpx allow --admin /run/qmpx/broker.sock --guest vm1 \\
                    --path /img/vm1.qcow2 --access rw
                qmpx allow --admin /run/qmpx/broker.sock --guest vm1 \\
                    --path /img/vm1-overlays --access rw --create --prefix
                qmpx whitelist --admin /run/qmpx/broker.sock --guest vm1
                qmpx revoke --admin /run/qmpx/broker.sock --guest vm1 \\
                    --path /img/vm1.qcow2

            SEE ALSO
                qmpx broker --help; the README's "The open-hook fd broker".
            """;

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private AdminCommands() {
    }

    public static int run(String role, String[] args) throws UsageException, IOException {
        Arguments a = new Arguments(args);
        Path admin = null;
        ObjectNode request = AdminClient.request(role);
        while (a.hasNext()) {
            String option = a.next();
            switch (option) {
                case "--admin" -> admin = Path.of(a.value(option));
                case "--guest" -> request.put("guest", a.value(option));
                case "--uid" -> request.put("uid", a.intValue(option, 0, Integer.MAX_VALUE));
                case "--path" -> request.put("path", a.value(option));
                case "--access" -> request.put("access", a.value(option));
                case "--create" -> request.put("create", true);
                case "--prefix" -> request.put("prefix", true);
                case "--special" -> request.put("special", true);
                default -> throw UsageException.unknownOption(option, role);
            }
        }
        if (admin == null) {
            throw new UsageException("--admin SOCKET is required");
        }
        JsonNode reply = AdminClient.call(admin, request);
        System.out.println(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(reply.has("return") ? reply.get("return") : reply));
        return reply.has("error") ? 1 : 0;
    }
}
