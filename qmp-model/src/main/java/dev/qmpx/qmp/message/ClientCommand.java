package dev.qmpx.qmp.message;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.qmp.json.JsonMessage;

/**
 * A well-formed QMP command from a client.
 *
 * @param name the value of {@code execute} (or {@code exec-oob})
 * @param outOfBand true when sent with {@code exec-oob}
 * @param arguments the {@code arguments} object, empty when absent
 * @param rawId the client's id bytes exactly as sent, or null
 * @param message the command as received, for forwarding without re-serialising
 */
public record ClientCommand(String name, boolean outOfBand, ObjectNode arguments, byte[] rawId,
                            JsonMessage message) implements ClientInput {
}
