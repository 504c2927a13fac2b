package dev.qmpx.qmp.catalogue;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * QEMU's commands as the proxy sees them: which exist and may run out of band (from QEMU's own
 * {@code query-qmp-schema}), and their class (an explicit table: QMP has no read-only flag).
 * Unknown commands, whatever their name, are {@link CommandClass#MODIFY}. Immutable.
 */
public final class CommandCatalogue {
    /**
     * Every command of QEMU 7.2 (x86_64) that only reads state, by name: no prefix is trusted, so a
     * query-like name QEMU may add later (or a client invents) waits for the job like any modify
     * command until it is listed here.
     */
    private static final Set<String> QUERIES = Set.of("query-acpi-ospm-status", "query-balloon", "query-block",
            "query-block-exports", "query-block-jobs", "query-blockstats", "query-chardev", "query-chardev-backends",
            "query-colo-status", "query-command-line-options", "query-commands", "query-cpu-definitions",
            "query-cpu-model-expansion", "query-cpus-fast", "query-current-machine", "query-dirty-rate",
            "query-display-options", "query-dump", "query-dump-guest-memory-capability", "query-fdsets",
            "query-hotpluggable-cpus", "query-iothreads", "query-jobs", "query-kvm", "query-machines", "query-memdev",
            "query-memory-devices", "query-memory-size-summary", "query-mice", "query-migrate",
            "query-migrate-capabilities", "query-migrate-parameters", "query-name", "query-named-block-nodes",
            "query-pci", "query-pr-managers", "query-qmp-schema", "query-replay", "query-rocker",
            "query-rocker-of-dpa-flows", "query-rocker-of-dpa-groups", "query-rocker-ports", "query-rx-filter",
            "query-sev", "query-sev-attestation-report", "query-sev-capabilities", "query-sev-launch-measure",
            "query-sgx", "query-sgx-capabilities", "query-spice", "query-stats", "query-stats-schemas", "query-status",
            "query-target", "query-tpm", "query-tpm-models", "query-tpm-types", "query-uuid", "query-vcpu-dirty-limit",
            "query-version", "query-vm-generation-id", "query-vnc", "query-vnc-servers", "query-xen-replication-status",
            "query-yank", "qom-get", "qom-list", "qom-list-types", "qom-list-properties", "device-list-properties",
            "trace-event-get-state", "x-debug-query-block-graph", "x-query-irq", "x-query-jit", "x-query-numa",
            "x-query-opcount", "x-query-profile", "x-query-ramblock", "x-query-rdma", "x-query-roms", "x-query-usb",
            "x-query-virtio", "x-query-virtio-status", "x-query-virtio-queue-status", "x-query-virtio-vhost-queue-status",
            "x-query-virtio-queue-element");
    /** Commands that start a QEMU job; their completion comes by event. */
    private static final Set<String> JOBS = Set.of("blockdev-backup", "drive-backup", "drive-mirror", "blockdev-mirror",
            "block-commit", "block-stream", "blockdev-create", "blockdev-amend", "x-blockdev-amend", "migrate",
            "migrate-incoming", "snapshot-save", "snapshot-load", "snapshot-delete", "dump-guest-memory");

    /** What the schema says of one command. */
    public record Command(String name, boolean allowOob) {
    }

    private final Map<String, Command> commands;

    private CommandCatalogue(Map<String, Command> commands) {
        this.commands = Map.copyOf(commands);
    }

    public static CommandCatalogue empty() {
        return new CommandCatalogue(Map.of());
    }

    /** From the "return" array of query-qmp-schema: its meta-type "command" entries. */
    public static CommandCatalogue fromSchema(JsonNode schema) {
        Map<String, Command> commands = new HashMap<>();
        for (JsonNode entity : schema) {
            if ("command".equals(entity.path("meta-type").asText())) {
                String name = entity.path("name").asText();
                commands.put(name, new Command(name, entity.path("allow-oob").asBoolean(false)));
            }
        }
        return new CommandCatalogue(commands);
    }

    public boolean exists(String name) {
        return commands.containsKey(name);
    }

    public boolean allowsOob(String name) {
        Command command = commands.get(name);
        return command != null && command.allowOob();
    }

    public int size() {
        return commands.size();
    }

    /** The class of any command name, known to QEMU or not. */
    public static CommandClass classify(String name) {
        if (QUERIES.contains(name)) {
            return CommandClass.QUERY;
        }
        return JOBS.contains(name) ? CommandClass.JOB : CommandClass.MODIFY;
    }
}
