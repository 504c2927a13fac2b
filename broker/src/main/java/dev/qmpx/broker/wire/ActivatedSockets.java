package dev.qmpx.broker.wire;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Listening sockets handed over by a service manager (systemd socket activation, sd_listen_fds(3)):
 * {@code LISTEN_PID} names this process, {@code LISTEN_FDS} counts the sockets from fd 3 on, and
 * {@code LISTEN_FDNAMES} (colon-separated, from {@code FileDescriptorName=}) names them. Sockets
 * meant for another process (LISTEN_PID differs, e.g. inherited by a child) are none of ours.
 */
public record ActivatedSockets(List<Socket> sockets) {
    /** The first passed fd (SD_LISTEN_FDS_START). */
    public static final int FIRST_FD = 3;

    /** One passed socket: its fd and its name ("unknown" when the manager gave none, as systemd does). */
    public record Socket(int fd, String name) {
    }

    /** What the environment hands this process; no sockets when it is not socket-activated. */
    public static ActivatedSockets fromEnvironment() {
        return parse(System.getenv(), ProcessHandle.current().pid());
    }

    static ActivatedSockets parse(Map<String, String> environment, long pid) {
        String listenPid = environment.get("LISTEN_PID");
        String listenFds = environment.get("LISTEN_FDS");
        if (listenPid == null || listenFds == null) {
            return new ActivatedSockets(List.of());
        }
        try {
            if (Long.parseLong(listenPid.strip()) != pid) {
                return new ActivatedSockets(List.of());
            }
            int count = Integer.parseInt(listenFds.strip());
            if (count < 0) {
                throw new IllegalArgumentException("LISTEN_FDS=" + listenFds + " is negative");
            }
            String names = environment.get("LISTEN_FDNAMES");
            String[] split = names == null || names.isEmpty() ? new String[0] : names.split(":", -1);
            if (split.length != 0 && split.length != count) {
                throw new IllegalArgumentException("LISTEN_FDNAMES names " + split.length + " sockets, LISTEN_FDS says " + count);
            }
            List<Socket> sockets = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                sockets.add(new Socket(FIRST_FD + i, split.length == 0 ? "unknown" : split[i]));
            }
            return new ActivatedSockets(List.copyOf(sockets));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("LISTEN_PID=" + listenPid + ", LISTEN_FDS=" + listenFds + ": not numbers");
        }
    }

    public boolean isEmpty() {
        return sockets.isEmpty();
    }

    /** The sockets with this name. */
    public List<Socket> named(String name) {
        return sockets.stream().filter(s -> s.name().equals(name)).toList();
    }
}
