package dev.qmpx.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qmpx.broker.cli.UsageException;
import dev.qmpx.broker.service.Broker;
import dev.qmpx.broker.wire.ActivatedSockets;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code qmpx proxy --config FILE}: the guests of one proxy process,
 * {@code {"guests": [{"name": ..., "qemu": ..., "listen": [...], "broker": ...?}]}}. Read strictly:
 * an unknown member, a missing one or a name used twice is an error naming the entry.
 */
final class ProxyConfigFile {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Set<String> MEMBERS = Set.of("name", "qemu", "listen", "broker");

    private ProxyConfigFile() {
    }

    /** @param activated sockets systemd passed, each given to the guest its name names */
    static List<ProxyOptions.GuestSpec> read(Path file, ProxyOptions.GuestFactory factory, ActivatedSockets activated)
            throws UsageException {
        JsonNode root;
        try {
            root = MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new UsageException("--config " + file + ": " + e.getMessage());
        }
        if (root == null || !root.isObject() || root.size() != 1 || !root.path("guests").isArray() || root.get("guests").isEmpty()) {
            throw new UsageException("--config " + file + ": expected {\"guests\": [...]} with at least one guest");
        }
        List<ProxyOptions.GuestSpec> guests = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Set<Path> sockets = new HashSet<>();
        int index = 0;
        for (JsonNode entry : root.get("guests")) {
            String where = "--config " + file + ": guests[" + index++ + "]";
            if (!entry.isObject()) {
                throw new UsageException(where + " is not an object");
            }
            for (var it = entry.fieldNames(); it.hasNext(); ) {
                String member = it.next();
                if (!MEMBERS.contains(member)) {
                    throw new UsageException(where + ": unknown member '" + member + "' (known: name, qemu, listen, broker)");
                }
            }
            String name = text(entry, "name", where);
            try {
                Broker.checkGuestName(name);
            } catch (dev.qmpx.broker.service.AdminException e) {
                throw new UsageException(where + ": " + e.getMessage());
            }
            if (!names.add(name)) {
                throw new UsageException(where + ": the name '" + name + "' is used twice");
            }
            Path qemu = Path.of(text(entry, "qemu", where));
            JsonNode listen = entry.path("listen");
            List<Integer> passed = activated.named(name).stream().map(ActivatedSockets.Socket::fd).toList();
            if (!(listen.isArray() && !listen.isEmpty()) && !(listen.isMissingNode() && !passed.isEmpty())) {
                throw new UsageException(where + ": 'listen' must be a non-empty list of socket paths (it may be left "
                        + "out when systemd passes a socket named '" + name + "')");
            }
            List<Path> paths = new ArrayList<>();
            for (JsonNode path : listen) {
                if (!path.isTextual() || !sockets.add(Path.of(path.textValue()).toAbsolutePath())) {
                    throw new UsageException(where + ": each 'listen' entry must be a socket path used once");
                }
                paths.add(Path.of(path.textValue()).toAbsolutePath());
            }
            Path broker = entry.has("broker") ? Path.of(text(entry, "broker", where)).toAbsolutePath() : null;
            // One guest's QEMU going away must not end the process serving the others.
            guests.add(new ProxyOptions.GuestSpec(factory.create(name, qemu, true, broker), paths, passed));
        }
        for (ActivatedSockets.Socket socket : activated.sockets()) {
            if (!names.contains(socket.name())) {
                throw new UsageException("systemd passed socket fd " + socket.fd() + " named '" + socket.name()
                        + "', which is no guest in " + file + " (FileDescriptorName= must be a guest's name)");
            }
        }
        return guests;
    }

    private static String text(JsonNode entry, String member, String where) throws UsageException {
        JsonNode value = entry.get(member);
        if (value == null || !value.isTextual() || value.textValue().isEmpty()) {
            throw new UsageException(where + ": '" + member + "' must be a non-empty string");
        }
        return value.textValue();
    }
}
