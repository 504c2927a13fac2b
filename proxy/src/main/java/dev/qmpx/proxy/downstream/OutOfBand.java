package dev.qmpx.proxy.downstream;

import java.util.Set;

/**
 * The commands QEMU 7.2 allows with {@code exec-oob} (qemu-facts §5). The proxy runs them in-band
 * upstream, since it never negotiates OOB with QEMU (fds would go astray, §0.3), but answers the
 * others as QEMU would.
 */
final class OutOfBand {
    private static final Set<String> ALLOWED = Set.of("migrate-pause", "migrate-recover", "query-yank", "yank");

    private OutOfBand() {
    }

    static boolean allows(String command) {
        return ALLOWED.contains(command);
    }
}
