package dev.qmpx.shell;

import dev.qmpx.broker.cli.UsageException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ShellOptionsTest {
    @Test
    void defaults() throws UsageException {
        assertEquals(new ShellOptions(Path.of("/run/s.sock"), false, Optional.empty(), Optional.of(ShellOptions.DEFAULT_HISTORY)),
                ShellOptions.parse(new String[] {"/run/s.sock"}));
    }

    @Test
    void everyOption() throws UsageException {
        assertEquals(new ShellOptions(Path.of("s"), true, Optional.of(Path.of("l")), Optional.empty()),
                ShellOptions.parse(new String[] {"--raw", "-l", "l", "--no-history", "s"}));
        assertEquals(new ShellOptions(Path.of("s"), false, Optional.of(Path.of("l")), Optional.of(Path.of("h"))),
                ShellOptions.parse(new String[] {"--raw", "s", "--log", "l", "--history", "h", "-p"}));
    }

    @Test
    void badUsage() {
        assertEquals("SOCKET is required (see qmpx shell --help)",
                assertThrows(UsageException.class, () -> ShellOptions.parse(new String[] {"--raw"})).getMessage());
        assertEquals("one SOCKET only, got 'a' and 'b'",
                assertThrows(UsageException.class, () -> ShellOptions.parse(new String[] {"a", "b"})).getMessage());
        assertEquals("unknown option '--pretty-much' (see qmpx shell --help)",
                assertThrows(UsageException.class, () -> ShellOptions.parse(new String[] {"--pretty-much", "s"})).getMessage());
        assertEquals("--log needs a value",
                assertThrows(UsageException.class, () -> ShellOptions.parse(new String[] {"s", "--log"})).getMessage());
    }
}
