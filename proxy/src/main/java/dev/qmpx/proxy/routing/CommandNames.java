package dev.qmpx.proxy.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.qmp.json.JsonMessage;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;

/** What the proxy learns from QEMU at negotiation: its commands and its existing fdsets. */
final class CommandNames {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private CommandNames() {
    }

    /** The fdset ids in QEMU's reply to query-fdsets. */
    static java.util.List<Long> fdsetIds(JsonMessage reply) {
        java.util.List<Long> ids = new java.util.ArrayList<>();
        for (JsonNode set : tree(reply).path("return")) {
            ids.add(set.path("fdset-id").asLong());
        }
        return ids;
    }

    private static JsonNode tree(JsonMessage reply) {
        try {
            return MAPPER.readTree(reply.text());
        } catch (IOException e) {
            throw new IllegalStateException("QEMU's reply is not JSON", e);
        }
    }

    static Set<String> fromQueryCommands(JsonMessage reply) {
        Set<String> names = new HashSet<>();
        for (JsonNode command : tree(reply).path("return")) {
            if (command.path("name").isTextual()) {
                names.add(command.path("name").textValue());
            }
        }
        return Set.copyOf(names);
    }
}
