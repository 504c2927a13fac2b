package dev.qmpx.proxy.policy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The built-in roles' commands, each listed by name with the rule its arguments must meet: an
 * allowlist of QEMU 7.2's commands (walked from its query-qmp-schema) and the proxy's own. A
 * command not listed is refused, whatever its name looks like. The README's tables show the same
 * lists (SchemaRolesIT holds them to each other).
 */
final class RoleTables {
    /**
     * migrate (outgoing): never exec:, which runs a shell command line as QEMU. unix: only
     * connects there.
     */
    static final ArgumentRule MIGRATION_URI = new ArgumentRule.UriSchemes("uri", List.of("tcp", "unix", "vsock", "rdma"));
    /**
     * migrate-incoming and migrate-recover listen at their URI: never unix:, whose path QEMU
     * unlinks before it binds (any file QEMU may unlink would be deleted), nor exec:.
     */
    static final ArgumentRule INCOMING_URI = new ArgumentRule.UriSchemes("uri", List.of("tcp", "vsock", "rdma"));
    /** nbd-server-start listens at addr: inet or vsock, never a unix path (unlinked first) or an fd. */
    static final ArgumentRule LISTENING_ADDRESS = new ArgumentRule.ListeningTypes("addr", List.of("inet", "vsock"));
    /**
     * Node options: never a secret object's id (see NoSecretMembers). Only an admin creates
     * secrets (object-add is not in the operator table), so one named by an operator is an
     * admin's: LUKS images that need a passphrase are opened by an admin, or the policy grants
     * blockdev-add by name to the role that may use the admin's secrets.
     */
    static final ArgumentRule NO_SECRETS = new ArgumentRule.NoSecretMembers();
    /** block-export-add: NBD only (vhost-user-blk listens on a unix path, fuse mounts on a file) and no secrets. */
    static final ArgumentRule NBD_EXPORT = new ArgumentRule.All(List.of(new ArgumentRule.MemberIn("type", List.of("nbd")),
            NO_SECRETS));
    /** qom-get: never any property of a secret (secret, secret_keyring: passphrases in "data"). */
    static final ArgumentRule NOT_A_SECRET = new ArgumentRule.ObjectTypeNot("path", "secret");

    /**
     * Reading the guest's state without changing it, revealing a secret or being able to crash
     * QEMU. Left out on purpose: qom-list-properties and device-list-properties (QEMU 7.2 aborts or
     * segfaults instantiating some types: colo-compare, microvm-machine, x-remote-object, ...),
     * query-cpu-model-expansion (instantiates a CPU of the client's choosing), the x-query-virtio*
     * debugging commands, query-fdsets (fd commands), query-sev-attestation-report and
     * query-sev-launch-measure (firmware operations), ringbuf-read (consumes console output).
     */
    static final Map<String, ArgumentRule> READONLY = table(List.of("query-acpi-ospm-status", "query-balloon",
            "query-block", "query-block-exports", "query-block-jobs", "query-blockstats", "query-chardev",
            "query-chardev-backends", "query-colo-status", "query-command-line-options", "query-commands",
            "query-cpu-definitions", "query-cpus-fast", "query-current-machine", "query-dirty-rate",
            "query-display-options", "query-dump", "query-dump-guest-memory-capability", "query-hotpluggable-cpus",
            "query-iothreads", "query-jobs", "query-kvm", "query-machines", "query-memdev", "query-memory-devices",
            "query-memory-size-summary", "query-mice", "query-migrate", "query-migrate-capabilities",
            "query-migrate-parameters", "query-name", "query-named-block-nodes", "query-pci", "query-pr-managers",
            "query-qmp-schema", "query-replay", "query-rocker", "query-rocker-of-dpa-flows", "query-rocker-of-dpa-groups",
            "query-rocker-ports", "query-rx-filter", "query-sev", "query-sev-capabilities", "query-sgx",
            "query-sgx-capabilities", "query-spice", "query-stats", "query-stats-schemas", "query-status", "query-target",
            "query-tpm", "query-tpm-models", "query-tpm-types", "query-uuid", "query-vcpu-dirty-limit", "query-version",
            "query-vm-generation-id", "query-vnc", "query-vnc-servers", "query-xen-replication-status", "query-yank",
            "qom-list", "qom-list-types", "trace-event-get-state", "x-debug-query-block-graph", "x-query-irq",
            "x-query-jit", "x-query-numa", "x-query-opcount", "x-query-profile", "x-query-ramblock", "x-query-rdma",
            "x-query-roms", "x-query-usb"), Map.of("qom-get", NOT_A_SECRET));

    /**
     * The readonly table, plus running the guest: run control, disks and block jobs, snapshots,
     * device hot-plug, migration (out: tcp, unix, vsock, rdma; in: tcp, vsock, rdma), NBD exports
     * (listening on inet or vsock), the job group, never naming a secret object. Not: quit,
     * human-monitor-command, the fd commands, commands that write host files QEMU can reach
     * (screendump, pmemsave, memsave, dump-guest-memory, dumpdtb), chardevs, objects and netdevs
     * (file backends, secrets, helper programs and scripts), qom-set, passwords, x-* and xen-*.
     */
    static final Map<String, ArgumentRule> OPERATOR = operator();

    private RoleTables() {
    }

    private static Map<String, ArgumentRule> operator() {
        Map<String, ArgumentRule> table = new LinkedHashMap<>(READONLY);
        table.putAll(table(List.of("stop", "cont", "system_reset", "system_powerdown", "system_wakeup", "inject-nmi",
                "set-action", "watchdog-set-action", "send-key", "input-send-event", "set_link", "balloon",
                "rtc-reset-reinjection", "blockdev-del",
                "block_resize", "block_set_io_throttle", "block-set-write-threshold", "block-latency-histogram-set",
                "blockdev-change-medium", "blockdev-open-tray", "blockdev-close-tray", "blockdev-insert-medium",
                "blockdev-remove-medium", "eject", "change-backing-file", "block-dirty-bitmap-add",
                "block-dirty-bitmap-clear", "block-dirty-bitmap-disable", "block-dirty-bitmap-enable",
                "block-dirty-bitmap-merge", "block-dirty-bitmap-remove", "block-commit", "block-stream",
                "blockdev-backup", "drive-backup", "drive-mirror", "blockdev-mirror", "block-job-cancel",
                "block-job-complete", "block-job-dismiss", "block-job-finalize", "block-job-pause", "block-job-resume",
                "block-job-set-speed", "job-cancel", "job-complete", "job-dismiss", "job-finalize", "job-pause",
                "job-resume", "blockdev-snapshot", "blockdev-snapshot-sync", "blockdev-snapshot-internal-sync",
                "blockdev-snapshot-delete-internal-sync", "snapshot-save", "snapshot-load", "snapshot-delete",
                "transaction", "nbd-server-add", "nbd-server-remove", "nbd-server-stop",
                "block-export-del", "device_add", "device_del", "migrate_cancel", "migrate-continue",
                "migrate-pause", "migrate-start-postcopy", "migrate-set-capabilities", "migrate-set-parameters",
                "client_migrate_info", "announce-self", "calc-dirty-rate", "set-vcpu-dirty-limit",
                "cancel-vcpu-dirty-limit", "yank", "__dev.qmpx_clients", "__dev.qmpx_job-begin", "__dev.qmpx_job-end",
                "__dev.qmpx_snapshot"),
                Map.of("migrate", MIGRATION_URI, "migrate-incoming", INCOMING_URI, "migrate-recover", INCOMING_URI,
                        "nbd-server-start", LISTENING_ADDRESS, "block-export-add", NBD_EXPORT, "blockdev-add", NO_SECRETS,
                        "blockdev-create", NO_SECRETS, "blockdev-reopen", NO_SECRETS)));
        return Map.copyOf(table);
    }

    private static Map<String, ArgumentRule> table(List<String> anyArguments, Map<String, ArgumentRule> ruled) {
        Map<String, ArgumentRule> table = new LinkedHashMap<>();
        anyArguments.forEach(name -> table.put(name, ArgumentRule.ANY));
        table.putAll(ruled);
        return Map.copyOf(table);
    }
}
