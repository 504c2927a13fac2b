package dev.qmpx.proxy.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.qmp.json.JsonMessage;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;

/** Reads the command names out of QEMU's reply to query-commands. */
final class CommandNames {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private CommandNames() {
    }

    static Set<String> fromQueryCommands(JsonMessage reply) {
        Set<String> names = new HashSet<>();
        try {
            for (JsonNode command : MAPPER.readTree(reply.text()).path("return")) {
                if (command.path("name").isTextual()) {
                    names.add(command.path("name").textValue());
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("QEMU's query-commands reply is not JSON", e);
        }
        return Set.copyOf(names);
    }
}
