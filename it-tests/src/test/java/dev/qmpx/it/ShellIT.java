package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bin/qmpx shell} on a real proxy in front of a real QEMU, with piped input and on a terminal (tmux). */
class ShellIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static final String EVENT_TIME = "\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\]";

    @Test
    void pipedLinesGetRepliesErrorsAndEventsInOrderAndTheLogHasEveryLine() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient other = guest.client()) {
            Path log = guest.dir.resolve("session.log");
            try (ShellProcess shell = ShellProcess.start(guest.dir, "shell", List.of("-l", log.toString(), guest.listen.toString()))) {
                shell.type("query-status");
                shell.awaitOut("\"running\": true\n}\n", TIMEOUT);
                // The shell has a reply, so it is negotiated: another client's commands' events reach it.
                other.execute("{\"execute\": \"stop\"}", TIMEOUT);
                shell.awaitOut("] event STOP\n", TIMEOUT);
                other.execute("{\"execute\": \"cont\"}", TIMEOUT);
                shell.awaitOut("] event RESUME\n", TIMEOUT);
                shell.type("qom-list path=/",
                        "qom-list path",
                        "blockdev-add driver=raw node-name=r0 file.driver=null-co file.node-name=n1",
                        "qom-get path=/nope property=type",
                        "{bad",
                        "transaction( block-dirty-bitmap-add node=r0 name=b0 ; block-dirty-bitmap-add node=r0 name=b1 )",
                        "{'execute': 'query-name', 'id': 'mine'}");
                shell.endInput();
                assertEquals(1, shell.awaitExit(TIMEOUT), "a command failed; " + shell.transcript());

                String[] out = shell.out().split("\n", 2);
                assertTrue(out[0].matches("Connected to QEMU 7\\.2\\.\\d+ \\(.+\\) at " + Pattern.quote(guest.listen.toString())),
                        out[0]);
                assertEquals("""
                        {
                          "status": "running",
                          "singlestep": false,
                          "running": true
                        }
                        [TIME] event STOP
                        [TIME] event RESUME
                        [
                          {
                            "name": "type",
                            "type": "string"
                          },
                          {
                            "name": "machine",
                            "type": "child<none-machine>"
                          },
                          {
                            "name": "chardevs",
                            "type": "child<container>"
                          }
                        ]
                        {}
                        error: DeviceNotFound: Device '/nope' not found
                        {}
                        {}
                        """, out[1].replaceAll(EVENT_TIME, "[TIME]"));
                assertEquals("""
                        qmpx shell: expected key=value, got 'path'; nothing sent
                        qmpx shell: bad JSON: Unexpected character ('b' (code 98)): was expecting double-quote to start field name; nothing sent
                        """, shell.err());
            }
            // The dotted keys reached QEMU as a nested object (n1 exists only as r0's file child), and
            // both actions of the transaction were done.
            String nodes = other.execute("{\"execute\": \"query-named-block-nodes\", \"arguments\": {\"flat\": true}}", TIMEOUT);
            for (String part : List.of("\"node-name\": \"n1\"", "\"node-name\": \"r0\"", "\"name\": \"b0\"", "\"name\": \"b1\"")) {
                assertTrue(nodes.contains(part), part + " in " + nodes);
            }

            List<String> lines = Files.readAllLines(log);
            assertTrue(lines.getFirst().matches("# qmpx shell \\S+ " + Pattern.quote(guest.listen.toString())), lines.getFirst());
            assertEquals("<- " + other.greeting(), lines.get(1));
            assertEquals("-> {\"execute\":\"qmp_capabilities\",\"id\":1}", lines.get(2));
            assertEquals("<- {\"return\": {}, \"id\": 1}", lines.get(3));
            assertTrue(lines.contains("-> {\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"r0\","
                    + "\"file\":{\"driver\":\"null-co\",\"node-name\":\"n1\"}},\"id\":4}"), String.join("\n", lines));
            assertTrue(lines.contains("-> {\"execute\":\"query-name\",\"id\":\"mine\"}"), String.join("\n", lines));
            assertTrue(lines.contains("<- {\"return\": {}, \"id\": \"mine\"}"), String.join("\n", lines));
            assertTrue(lines.stream().anyMatch(l -> l.matches("<- \\{\"timestamp\": \\{.*\\}, \"event\": \"STOP\"\\}")),
                    String.join("\n", lines));
            // Seven commands sent (the shell's qmp_capabilities among them); the two bad lines sent nothing.
            assertEquals(7, lines.stream().filter(l -> l.startsWith("-> ")).count(), String.join("\n", lines));
            assertEquals(lines.size() - 1, lines.stream().filter(l -> l.startsWith("-> ") || l.startsWith("<- ")).count(),
                    String.join("\n", lines));
        }
    }

    @Test
    void rawShowsQemusLinesUnchangedAndAllSucceedingExitsZero() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient other = guest.client();
             ShellProcess shell = ShellProcess.start(guest.dir, "raw", List.of("--raw", "--no-history", guest.listen.toString()))) {
            shell.type("query-status", "stop", "cont");
            shell.endInput();
            assertEquals(0, shell.awaitExit(TIMEOUT), shell.transcript());
            assertEquals(other.greeting() + "\n"
                            + "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": 2}\n"
                            + "{\"timestamp\": T, \"event\": \"STOP\"}\n"
                            + "{\"return\": {}, \"id\": 3}\n"
                            + "{\"timestamp\": T, \"event\": \"RESUME\"}\n"
                            + "{\"return\": {}, \"id\": 4}\n",
                    shell.out().replaceAll("\\{\"seconds\": \\d+, \"microseconds\": \\d+\\}", "T"));
            assertEquals("", shell.err());
        }
    }

    @Test
    void aLostConnectionIsSaidAndEndsTheShellWithStatus1() throws Exception {
        try (GuestFixture guest = GuestFixture.start();
             ShellProcess shell = ShellProcess.start(guest.dir, "lost", List.of(guest.listen.toString()))) {
            shell.type("query-status");
            shell.awaitOut("\"running\": true", TIMEOUT);
            guest.proxy.close();
            // Its input is still open: the shell is waiting for a line when the connection goes.
            assertEquals(1, shell.awaitExit(TIMEOUT), shell.transcript());
            assertEquals("qmpx shell: connection to " + guest.listen + " lost: " + guest.listen + " closed the connection\n",
                    shell.err());
        }
    }

    @Test
    void aQuitQemuAcceptedEndsTheShellWithStatus0() throws Exception {
        try (GuestFixture guest = GuestFixture.start();
             ShellProcess shell = ShellProcess.start(guest.dir, "quit", List.of(guest.listen.toString()))) {
            // Input stays open: the accepted quit alone ends the session; the closed connection after it is no loss.
            shell.type("quit");
            assertEquals(0, shell.awaitExit(TIMEOUT), shell.transcript());
            assertTrue(Pattern.compile("\n" + EVENT_TIME + " event SHUTDOWN \\{\n  \"guest\": false,\n  \"reason\": \"host-qmp-quit\"\n}\n\\{}\n")
                    .matcher(shell.out()).find(), shell.transcript());
            assertEquals("", shell.err());
        }
    }

    @Test
    void aSocketThatIsNotThereIsAClearErrorWithStatus1() throws Exception {
        try (WorkDir dir = new WorkDir();
             ShellProcess shell = ShellProcess.start(dir, "none", List.of(dir.resolve("absent.sock").toString()))) {
            assertEquals(1, shell.awaitExit(TIMEOUT), shell.transcript());
            assertEquals("qmpx shell: cannot connect to " + dir.resolve("absent.sock") + ": No such file or directory\n",
                    shell.err());
            assertEquals("", shell.out());
        }
    }

    @Test
    void onATerminalLinesAreEditedCompletedAndCancelledAndEventsAndLateRepliesAppearAboveTheLineBeingTyped() throws Exception {
        try (GuestFixture guest = GuestFixture.start(); QmpClient other = guest.client()) {
            Path history = guest.dir.resolve("history");
            Path status = guest.dir.resolve("status");
            String command = ProxyProcess.HOME.resolve("bin/qmpx") + " shell --history " + history + " " + guest.listen
                    + "; echo $? > " + status;
            try (TmuxPane pane = TmuxPane.start(guest.dir, command)) {
                pane.awaitScreen("the prompt", TIMEOUT, s -> s.endsWith("\n(QEMU)"));
                pane.keys("query-kv", "Tab");
                pane.awaitScreen("query-kv completed", TIMEOUT, s -> s.endsWith("\n(QEMU) query-kvm"));
                pane.keys("Enter");
                pane.awaitScreen("query-kvm's reply, then the prompt", TIMEOUT,
                        s -> s.contains("\"enabled\": ") && s.endsWith("}\n(QEMU)"));

                pane.keys("qom-li");
                pane.awaitScreen("the line being typed", TIMEOUT, s -> s.endsWith("}\n(QEMU) qom-li"));
                other.execute("{\"execute\": \"stop\"}", TIMEOUT);
                pane.awaitScreen("the event above the line being typed", TIMEOUT,
                        s -> Pattern.compile("\n" + EVENT_TIME + " event STOP\n\\(QEMU\\) qom-li$").matcher(s).find());
                pane.keys("st path=/", "Enter");
                pane.awaitScreen("qom-list's reply", TIMEOUT,
                        s -> s.contains("(QEMU) qom-list path=/\n[") && s.contains("\"name\": \"machine\"") && s.endsWith("]\n(QEMU)"));

                // Ctrl-C drops the line: cont is never sent, the guest stays paused.
                pane.keys("cont");
                pane.awaitScreen("cont typed", TIMEOUT, s -> s.endsWith("(QEMU) cont"));
                pane.keys("C-c");
                // JLine handles Ctrl-C as a signal, after keys already sent: wait for the new prompt first.
                pane.awaitScreen("a fresh prompt", TIMEOUT, s -> s.endsWith("(QEMU) cont\n(QEMU)"));
                pane.keys("query-status", "Enter");
                pane.awaitScreen("query-status's reply", TIMEOUT,
                        s -> s.contains("\"status\": \"paused\"") && s.endsWith("}\n(QEMU)"));

                // Ctrl-C while a reply is awaited (cont waits for the job another client holds) stops
                // waiting; the reply is shown when it comes, above the prompt.
                other.execute("{\"execute\": \"__dev.qmpx_job-begin\"}", TIMEOUT);
                pane.keys("cont", "Enter");
                pane.awaitScreen("cont sent", TIMEOUT, s -> s.endsWith("(QEMU) cont"));
                pane.keys("C-c");
                pane.awaitScreen("the prompt back", TIMEOUT,
                        s -> s.endsWith("qmpx shell: no longer waiting; the reply is shown when it comes\n(QEMU)"));
                other.execute("{\"execute\": \"__dev.qmpx_job-end\"}", TIMEOUT);
                pane.awaitScreen("cont's event and reply above the prompt", TIMEOUT,
                        s -> Pattern.compile("\n" + EVENT_TIME + " event RESUME\n\\{}\n\\(QEMU\\)$").matcher(s).find());

                pane.keys("C-d");
                Await.until("the shell's exit status", TIMEOUT, () -> ShellProcess.contents(status).endsWith("\n"));
                assertEquals("0\n", ShellProcess.contents(status), pane.screen());
            }
            // JLine's history file: TIME:LINE for each line run; the line dropped with Ctrl-C is not there.
            assertEquals(List.of("query-kvm", "qom-list path=/", "query-status", "cont"),
                    Files.readAllLines(history).stream().map(entry -> entry.substring(entry.indexOf(':') + 1)).toList());
        }
    }
}
