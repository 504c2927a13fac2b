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
            Usage (each talks to a running broker's admin socket and prints its JSON answer):
              qmpx register   --admin SOCKET --guest NAME [--uid UID]
              qmpx unregister --admin SOCKET --guest NAME
              qmpx allow      --admin SOCKET --guest NAME --path P --access r|rw [--create] [--prefix] [--special]
              qmpx revoke     --admin SOCKET --guest NAME --path P
              qmpx whitelist  --admin SOCKET --guest NAME
              qmpx grants     --admin SOCKET [--guest NAME]
              qmpx status     --admin SOCKET

              --uid UID   only this uid is served on the guest's hook socket (which it then owns)
              --create    the guest may create the file (exclusively: never an existing one)
              --prefix    P is a directory: the entry covers every file below it
              --special   device nodes and FIFOs may be opened too (regular files only otherwise)
            Paths must be canonical and absolute. Exit status: 0 done, 1 refused by the broker, 2 bad usage.
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
                default -> throw new UsageException("unknown option '" + option + "' (see qmpx allow --help)");
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
