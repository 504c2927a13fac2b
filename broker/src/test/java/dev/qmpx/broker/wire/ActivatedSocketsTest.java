package dev.qmpx.broker.wire;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ActivatedSocketsTest {
    @Test
    void socketsForThisProcessStartAtFdThreeWithTheirNames() {
        ActivatedSockets sockets = ActivatedSockets.parse(
                Map.of("LISTEN_PID", "42", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "vm1:admin"), 42);
        assertEquals(List.of(new ActivatedSockets.Socket(3, "vm1"), new ActivatedSockets.Socket(4, "admin")), sockets.sockets());
        assertEquals(List.of(new ActivatedSockets.Socket(4, "admin")), sockets.named("admin"));
    }

    @Test
    void unnamedSocketsAreCalledUnknownAsSystemdDoes() {
        assertEquals(List.of(new ActivatedSockets.Socket(3, "unknown")),
                ActivatedSockets.parse(Map.of("LISTEN_PID", "7", "LISTEN_FDS", "1"), 7).sockets());
    }

    @Test
    void socketsMeantForAnotherProcessOrNoneAtAllAreNotOurs() {
        assertTrue(ActivatedSockets.parse(Map.of("LISTEN_PID", "8", "LISTEN_FDS", "1"), 7).isEmpty());
        assertTrue(ActivatedSockets.parse(Map.of(), 7).isEmpty());
        assertTrue(ActivatedSockets.parse(Map.of("LISTEN_FDS", "1"), 7).isEmpty());
    }

    @Test
    void inconsistentVariablesAreAnError() {
        assertThrows(IllegalArgumentException.class,
                () -> ActivatedSockets.parse(Map.of("LISTEN_PID", "7", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "one"), 7));
        assertThrows(IllegalArgumentException.class,
                () -> ActivatedSockets.parse(Map.of("LISTEN_PID", "7", "LISTEN_FDS", "x"), 7));
        assertThrows(IllegalArgumentException.class,
                () -> ActivatedSockets.parse(Map.of("LISTEN_PID", "7", "LISTEN_FDS", "-1"), 7));
    }
}
