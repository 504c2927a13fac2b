package dev.qmpx.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.policy.Role;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The class behind issue 15's readonly attacks: QEMU 7.2's own query-qmp-schema against the
 * built-in roles and the README's tables, so that code and documentation cannot drift, and every
 * command outside the readonly table refused to a readonly client without reaching QEMU.
 */
class SchemaRolesIT {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** Answered by the proxy before any role applies, as QEMU answers it before any command. */
    private static final String NEGOTIATION = "qmp_capabilities";

    @Test
    void theRolesAreTheReadmeTablesAndAReadonlyClientIsRefusedEverythingElse() throws Exception {
        try (RolesIT.Split split = RolesIT.Split.start("readonly"); QmpClient readonly = split.secondClient();
             QmpClient admin = split.guest().client(); QmpClient direct = split.guest().directClient()) {
            Set<String> schema = new TreeSet<>();
            for (JsonNode entity : MAPPER.readTree(direct.execute("{\"execute\": \"query-qmp-schema\"}", GuestFixture.TIMEOUT))
                    .path("return")) {
                if (entity.path("meta-type").asText().equals("command")) {
                    schema.add(entity.path("name").asText());
                }
            }
            assertEquals(216, schema.size(), "QEMU 7.2's commands");
            Set<String> every = new TreeSet<>(schema);
            for (JsonNode command : MAPPER.readTree(admin.execute("{\"execute\": \"query-commands\"}", GuestFixture.TIMEOUT))
                    .path("return")) {
                every.add(command.path("name").asText()); // the proxy's own __dev.qmpx_* commands
            }
            every.addAll(List.of("query-foo", "x-query-foo", "qom-get-secret")); // names no QEMU has
            every.remove(NEGOTIATION);

            Set<String> readonlyTable = table("readonly");
            Set<String> operatorTable = new TreeSet<>(table("operator"));
            operatorTable.addAll(readonlyTable);
            assertTrue(every.containsAll(operatorTable), "every command in the README's tables exists: "
                    + operatorTable.stream().filter(c -> !every.contains(c)).toList());
            assertEquals(readonlyTable, permitted(Role.READONLY, every), "readonly = the README's readonly table");
            assertEquals(operatorTable, permitted(Role.OPERATOR, every), "operator = both README tables");

            List<String> refused = every.stream().filter(c -> !readonlyTable.contains(c)).toList();
            int id = 0;
            for (String command : refused) {
                id++;
                assertEquals(RolesIT.refusal(id, "readonly", command, ""), readonly.execute("{\"execute\": \"" + command
                        + "\", \"id\": " + id + "}", GuestFixture.TIMEOUT), command);
            }
            // Nothing reached QEMU: no quit, stop, reset or powerdown happened, no event on QEMU's own monitor.
            assertTrue(split.guest().qemu.isAlive());
            assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}",
                    direct.execute("{\"execute\": \"query-status\"}", GuestFixture.TIMEOUT));
            assertEquals(List.of(), direct.events(), "events QEMU emitted during the sweep");
            Await.until("every refusal audited", GuestFixture.TIMEOUT, () -> RolesIT.read(split.audit()).lines()
                    .filter(line -> line.contains("\"result\":\"denied\"")).count() == refused.size());

            // Every permitted command, with no arguments, is answered by QEMU (or by its own argument checks).
            for (String command : readonlyTable) {
                String reply = readonly.execute("{\"execute\": \"" + command + "\"}", GuestFixture.TIMEOUT);
                assertFalse(reply.contains("does not allow"), command + ": " + reply);
            }
            assertTrue(split.guest().qemu.isAlive(), "no readonly command crashed QEMU");
        }
    }

    private static Set<String> permitted(Role role, Set<String> commands) {
        Set<String> out = new TreeSet<>();
        commands.stream().filter(role::allows).forEach(out::add);
        return out;
    }

    /**
     * The command names in the README table whose header starts with {@code | ROLE: }: every
     * back-quoted name in its second column, notes in parentheses left out.
     */
    static Set<String> table(String role) throws IOException {
        List<String> lines = Files.readAllLines(ProxyProcess.HOME.resolve("README.md"));
        int header = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).strip().startsWith("| " + role + ": ")) {
                header = i;
            }
        }
        assertTrue(header >= 0, "README.md has a table headed '| " + role + ": '");
        Set<String> names = new TreeSet<>();
        Pattern quoted = Pattern.compile("`([^`]+)`");
        List<String> rows = new ArrayList<>();
        for (int i = header + 2; i < lines.size() && lines.get(i).strip().startsWith("|"); i++) {
            rows.add(lines.get(i).strip());
        }
        for (String row : rows) {
            String[] cells = row.split("\\|");
            Matcher found = quoted.matcher(cells[2].replaceAll("\\([^)]*\\)", ""));
            while (found.find()) {
                names.add(found.group(1));
            }
        }
        assertFalse(names.isEmpty(), role + " table");
        return names;
    }
}
