package dev.qmpx.proxy.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;
import dev.qmpx.client.QmpClient;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** {@code qmpx snapshot --proxy SOCK NODE=FILE...}: one atomic multi-disk snapshot through the proxy. */
final class SnapshotCommand {
    static final String HELP = """
            NAME
                qmpx snapshot - take an atomic multi-disk snapshot through a proxy

            SYNOPSIS
                qmpx snapshot --proxy SOCKET NODE=FILE [NODE=FILE]...

            DESCRIPTION
                Takes one atomic external snapshot of several disks through a running
                `qmpx proxy --broker ...` (its __dev.qmpx_snapshot command): for each
                block node NODE the broker creates the qcow2 overlay FILE (which must
                not exist; the guest's whitelist must allow creating it), then one QMP
                transaction switches every disk to its overlay. Overlays record their
                base's real path, so `qemu-img info --backing-chain FILE` works on the
                host. On any failure nothing changes: overlay nodes, fdsets and the
                files created are removed again.

                Prints the proxy's reply, one JSON line. It waits up to 30 seconds to
                connect and negotiate, and up to 10 minutes for the reply.

            OPTIONS
                --proxy SOCKET  A unix socket the proxy listens on (required).
                -h, --help      Show this text.

            EXIT STATUS
                0   The snapshot was taken.
                1   It was refused or failed (the reply says why), or the proxy could
                    not be reached.
                2   Bad usage.

            EXAMPLES
                qmpx snapshot --proxy /run/qmpx/vm1.sock \\
                    disk0=/img/vm1/disk0.s1.qcow2 disk1=/img/vm1/disk1.s1.qcow2

            SEE ALSO
                qmpx proxy --help, qmpx allow --help, qemu-img(1); the README's
                "Snapshots".
            """;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private SnapshotCommand() {
    }

    static int run(String[] args) throws UsageException, IOException {
        Path proxy = null;
        ArrayNode targets = MAPPER.createArrayNode();
        Arguments words = new Arguments(args);
        while (words.hasNext()) {
            String word = words.next();
            if (word.equals("--proxy")) {
                proxy = Path.of(words.value(word));
            } else if (word.startsWith("-")) {
                throw UsageException.unknownOption(word, "snapshot");
            } else if (word.contains("=")) {
                String[] pair = word.split("=", 2);
                targets.addObject().put("node", pair[0]).put("file", pair[1]);
            } else {
                throw new UsageException("unexpected '" + word + "': a target is NODE=FILE (see qmpx snapshot --help)");
            }
        }
        if (proxy == null || targets.isEmpty()) {
            throw new UsageException("--proxy SOCKET and at least one NODE=FILE are required");
        }
        ObjectNode command = MAPPER.createObjectNode().put("execute", "__dev.qmpx_snapshot");
        command.putObject("arguments").set("targets", targets);
        try (QmpClient client = QmpClient.negotiated(proxy, Duration.ofSeconds(30))) {
            String reply = client.execute(command.toString(), Duration.ofMinutes(10));
            System.out.println(reply);
            return reply.startsWith("{\"return\"") ? 0 : 1;
        }
    }
}
