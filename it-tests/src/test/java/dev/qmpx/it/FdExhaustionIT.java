package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15, attack 1: a unix client sending more than 60 fds in one message was dropped ("read
 * failed: No buffer space available") while the proxy kept the 60 fds it had received, so
 * repeated connections filled its fd table. Every fd a client sends must be closed or passed on.
 */
class FdExhaustionIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;

    /**
     * Per connection: 61..253 fds (SCM_MAX_FD) with a command before qmp_capabilities and after it,
     * a getfd carrying 253 fds (QEMU's getfd takes the first), then a command cut off by the close.
     */
    private static final String FLOOD = """
            import os, socket, sys
            fd = os.open(sys.argv[2], os.O_RDONLY)
            for round, count in enumerate([61, 62, 100, 200, 253, 61, 128, 253]):
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
                f.readline()
                def cmd(text, n=0):
                    socket.send_fds(s, [text.encode()], [fd] * n) if n else s.sendall(text.encode())
                    return f.readline().decode().strip()
                print(cmd('{"execute": "query-status", "id": %d}' % round, count))
                print(cmd('{"execute": "qmp_capabilities"}', count))
                print(cmd('{"execute": "query-name"}', count))
                print(cmd('{"execute": "getfd", "arguments": {"fdname": "f"}}', 253))
                print(cmd('{"execute": "closefd", "arguments": {"fdname": "f"}}'))
                socket.send_fds(s, [b'{"execute": "getfd", "arguments"'], [fd] * count)
                s.close()
            """;

    @Test
    void fdsBeyondWhatACommandTakesAreClosedAndTheProxyKeepsGreeting() throws Exception {
        try (GuestFixture guest = GuestFixture.start()) {
            Path file = guest.dir.resolve("passed");
            Files.writeString(file, "x");
            try (QmpClient warmUp = guest.client()) {
                warmUp.execute("{\"execute\": \"query-name\"}", TIMEOUT);
            }
            guest.proxy.awaitClientsGone(1);
            Map<Integer, String> baseline = ProcFds.targets(guest.proxy.pid());

            for (int attempt = 0; attempt < 3; attempt++) {
                String out = FdPassingIT.python(FLOOD, guest.listen, file);
                StringBuilder expected = new StringBuilder();
                for (int round = 0; round < 8; round++) {
                    expected.append("{\"id\": ").append(round).append(", \"error\": {\"class\": \"CommandNotFound\", "
                            + "\"desc\": \"Expecting capabilities negotiation with 'qmp_capabilities'\"}}\n");
                    expected.append("{\"return\": {}}\n{\"return\": {}}\n{\"return\": {}}\n{\"return\": {}}\n");
                }
                assertEquals(expected.toString(), out);
            }
            guest.proxy.awaitClientsGone(1 + 3 * 8);
            ProcFds.awaitCount("the proxy", guest.proxy.pid(), baseline, TIMEOUT);
            assertTrue(guest.proxy.log().contains("fds in one message: getfd and add-fd take only the first"),
                    guest.proxy.log());
            try (QmpClient after = guest.client()) {
                assertEquals("{\"return\": {}}", after.execute("{\"execute\": \"query-name\"}", TIMEOUT));
            }
        }
    }
}
