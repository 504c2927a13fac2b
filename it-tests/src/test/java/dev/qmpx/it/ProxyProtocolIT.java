package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What one client sees through the proxy, compared with what QEMU itself answers on a second,
 * direct monitor of the same QEMU.
 */
class ProxyProtocolIT {
    private static final Duration TIMEOUT = GuestFixture.TIMEOUT;
    private static GuestFixture guest;

    @BeforeAll
    static void start() throws IOException {
        guest = GuestFixture.start();
    }

    @AfterAll
    static void stop() throws Exception {
        guest.close();
    }

    @Test
    void greetingIsQemusOwnAndNegotiationIsPerClient() throws IOException {
        try (QmpClient direct = QmpClient.connect(guest.direct, TIMEOUT);
             QmpClient proxied = QmpClient.connect(guest.listen, TIMEOUT)) {
            assertEquals(direct.greeting(), proxied.greeting());
            List<String> script = List.of(
                    "{\"execute\": \"query-status\", \"id\": 1}",
                    "{\"execute\": \"query-status\"}",
                    "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"bogus\"]}}",
                    "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"foo\": 1}, \"id\": \"f\"}",
                    "{\"execute\": \"qmp_capabilities\", \"id\": \"neg\"}",
                    "{\"execute\": \"qmp_capabilities\", \"id\": \"again\"}",
                    "{\"execute\": \"query-status\", \"id\": 2}");
            for (String command : script) {
                assertEquals(direct.execute(command, TIMEOUT), proxied.execute(command, TIMEOUT), command);
            }
        }
    }

    @Test
    void malformedInputIsAnsweredAsQemuAnswersItAndTheSessionGoesOn() throws IOException {
        List<String> inputs = List.of(
                "{\"execute\": }",
                "{\"execute\": \"query-status\"]",
                "hello",
                "{\"execute\": \"query-status\", \"id\": \"x\n",
                "{\"arguments\": {}}",
                "{}",
                "{\"id\": 5}",
                "{\"execute\": 42}",
                "{\"execute\": \"query-status\", \"arguments\": [1]}",
                "{\"execute\": \"query-status\", \"foo\": 1}",
                "{\"execute\": \"query-status\", \"arguments\": {\"foo\": 1}}",
                "{\"execute\": \"getfd\"}",
                "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": 5}}",
                "[1, 2]",
                "42",
                "\"query-status\"",
                "{\"exec-oob\": \"query-status\", \"id\": 1}",
                "{\"execute\": \"query-status\", \"id\": \"eb\"}}",
                "]",
                "{\"execute\": \"no-such-command\", \"id\": 7}",
                "{'execute': 'query-status', 'id': 'single'}",
                "{\"execute\": \"query-status\", \"execute\": \"stop\"}",
                "{\"execute\": \"query-status\", \"id\": \"\\q\"}",
                "{\"execute\": \"query-status\", \"id\": 01}",
                "{\"execute\": \"query-status\", \"id\": tru}",
                "{\"execute\": \"query-status\", \"id\": [1 2]}",
                "{\"execute\": \"query-status\" \"id\": 3}",
                "{1: 2}",
                "{\"execute\": \"query-status\", \"id\": " + "[".repeat(1100) + "]".repeat(1100) + "}");
        try (QmpClient direct = guest.directClient(); QmpClient proxied = guest.client()) {
            for (String input : inputs) {
                List<String> expected = answersUntilSentinel(direct, input);
                assertFalse(expected.isEmpty(), "QEMU answers " + abbreviate(input));
                List<String> actual = answersUntilSentinel(proxied, input);
                assertEquals(expected, actual, "answers to " + abbreviate(input));
            }
        }
    }

    @Test
    void deepNestingGetsQemusThousandAndTwentySevenAnswers() throws IOException {
        String input = "{\"execute\": \"query-status\", \"id\": " + "[".repeat(1100) + "]".repeat(1100) + "}";
        try (QmpClient proxied = guest.client()) {
            List<String> answers = answersUntilSentinel(proxied, input);
            assertEquals(1027, answers.size());
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON nesting depth limit exceeded\"}}",
                    answers.get(0));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}",
                    answers.get(1));
        }
    }

    @Test
    void oversizedMessageIsRefusedWithQemusErrorAndTheSessionGoesOn() throws IOException {
        try (QmpClient proxied = guest.client()) {
            String huge = "{\"execute\": \"query-status\", \"id\": \"" + "a".repeat(2 << 20) + "\"}";
            List<String> answers = answersUntilSentinel(proxied, huge);
            assertFalse(answers.isEmpty());
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON token size limit exceeded\"}}",
                    answers.get(0));
            assertTrue(answers.stream().noneMatch(a -> a.contains("\"return\"")), "nothing reached QEMU: " + answers.size());
        }
    }

    @Test
    void idsComeBackByteForByte() throws IOException {
        List<String> ids = List.of("-0", "1.50", "1e2", "3.14159265358979323846264338327950288",
                "\"caf\\u00e9\\\"\"", "{\"a\": [1, {\"b\": 2.50}]}", "{\"a\":[1,{\"b\":2.50}]}",
                "\"é😀 raw\"", "null", "true", "[1, \"x\"]", "123456789012345678901234567890",
                "\"a\\\"b\\\\c\\n/\"", "  7  ");
        try (QmpClient proxied = guest.client()) {
            for (String id : ids) {
                String reply = proxied.execute("{\"execute\": \"query-status\", \"id\":" + id + "}", TIMEOUT);
                assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": "
                        + id.strip() + "}", reply, "id " + id);
                String error = proxied.execute("{\"id\":" + id + ", \"execute\": \"no-such\"}", TIMEOUT);
                assertEquals("{\"id\": " + id.strip() + ", \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                        + "\"The command no-such has not been found\"}}", error, "error id " + id);
            }
        }
    }

    @Test
    void aCommandWithoutIdGetsAReplyWithoutId() throws IOException {
        try (QmpClient direct = guest.directClient(); QmpClient proxied = guest.client()) {
            for (String command : List.of("{\"execute\": \"query-status\"}", "{\"execute\": \"no-such\"}",
                    "{\"execute\": \"query-status\", \"arguments\": {\"x\": 1}}")) {
                assertEquals(direct.execute(command, TIMEOUT), proxied.execute(command, TIMEOUT), command);
            }
        }
    }

    @Test
    void everyNegotiatedClientGetsEveryEventByteForByteAndOthersNone() throws IOException {
        try (QmpClient a = guest.client(); QmpClient b = guest.client(); QmpClient c = guest.client();
             QmpClient direct = guest.directClient();
             QmpClient unnegotiated = QmpClient.connect(guest.listen, TIMEOUT)) {
            assertEquals("{\"return\": {}, \"id\": \"s\"}", a.execute("{\"execute\": \"stop\", \"id\": \"s\"}", TIMEOUT));
            assertEquals("{\"return\": {}, \"id\": \"c\"}", b.execute("{\"execute\": \"cont\", \"id\": \"c\"}", TIMEOUT));
            String stop = direct.awaitEvent("STOP", TIMEOUT);
            String resume = direct.awaitEvent("RESUME", TIMEOUT);
            for (QmpClient client : List.of(a, b, c)) {
                assertEquals(stop, client.awaitEvent("STOP", TIMEOUT));
                assertEquals(resume, client.awaitEvent("RESUME", TIMEOUT));
            }
            // QEMU sends no events to a monitor that has not negotiated; neither does the proxy.
            assertEquals("{\"return\": {}}", unnegotiated.readLineAfter("{\"execute\": \"qmp_capabilities\"}", TIMEOUT));
        }
    }

    @Test
    void eventOrderMatchesQemuForCommandsThatCauseEvents() throws IOException {
        try (QmpClient a = guest.client()) {
            a.send("{\"execute\": \"stop\", \"id\": \"s1\"}");
            assertTrue(a.readLine(TIMEOUT).contains("\"event\": \"STOP\""), "STOP comes before stop's return");
            assertEquals("{\"return\": {}, \"id\": \"s1\"}", a.readLine(TIMEOUT));
            a.send("{\"execute\": \"cont\", \"id\": \"c1\"}");
            assertTrue(a.readLine(TIMEOUT).contains("\"event\": \"RESUME\""));
            assertEquals("{\"return\": {}, \"id\": \"c1\"}", a.readLine(TIMEOUT));
        }
    }

    @Test
    void outOfBandCommandsAreAnsweredAsQemuAnswersThem() throws IOException {
        try (QmpClient proxied = QmpClient.connect(guest.listen, TIMEOUT);
             QmpClient direct = QmpClient.connect(guest.direct, TIMEOUT)) {
            String enable = "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}";
            assertEquals(direct.execute(enable, TIMEOUT), proxied.execute(enable, TIMEOUT));
            for (String command : List.of("{\"exec-oob\": \"query-status\", \"id\": \"o1\"}",
                    "{\"exec-oob\": \"no-such-command\", \"id\": \"o2\"}",
                    "{\"exec-oob\": \"query-status\", \"execute\": \"query-status\", \"id\": \"o3\"}")) {
                assertEquals(direct.execute(command, TIMEOUT), proxied.execute(command, TIMEOUT), command);
            }
            // Run in-band upstream, but answered: the monitor named is the proxy's own.
            assertTrue(proxied.execute("{\"exec-oob\": \"query-yank\", \"id\": \"y1\"}", TIMEOUT)
                    .matches("\\{\"return\": \\[.*\"type\": \"chardev\".*\\], \"id\": \"y1\"}"));
        }
    }

    @Test
    void aPythonClientAndAJavaClientShareTheMonitor() throws Exception {
        String script = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                f = s.makefile("rb")
                print(f.readline().decode().strip())
                for cmd in (b'{"execute": "qmp_capabilities"}', b'{"execute": "query-name", "id": "py-1"}',
                            b'{"execute": "query-status", "id": {"py": [1, 2.50]}}'):
                    s.sendall(cmd + b"\\n")
                    print(f.readline().decode().strip())
                """;
        try (QmpClient java = guest.client()) {
            Process python = new ProcessBuilder("python3", "-c", script, guest.listen.toString())
                    .redirectErrorStream(true).start();
            assertEquals("{\"return\": {}, \"id\": \"j\"}", java.execute("{\"execute\": \"query-name\", \"id\": \"j\"}", TIMEOUT));
            List<String> lines = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
            assertEquals(0, python.waitFor());
            assertEquals(java.greeting(), lines.get(0));
            assertEquals(List.of("{\"return\": {}}", "{\"return\": {}, \"id\": \"py-1\"}",
                    "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": {\"py\": [1, 2.50]}}"),
                    lines.subList(1, lines.size()));
        }
    }

    /** Sends input, then a sentinel command, and returns every line before the sentinel's reply. */
    private static List<String> answersUntilSentinel(QmpClient client, String input) throws IOException {
        client.send((input + "\n{\"execute\": \"query-name\", \"id\": \"sentinel\"}").getBytes(StandardCharsets.UTF_8));
        List<String> answers = new ArrayList<>();
        while (true) {
            String line = client.nextReply(TIMEOUT);
            if (line.equals("{\"return\": {}, \"id\": \"sentinel\"}")) {
                return answers;
            }
            answers.add(line);
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }
}
