package dev.qmpx.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.demo.QemuProcess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The proxy's resident memory: G QEMUs served by one {@code qmpx proxy --config} process, with no
 * clients and with C idle negotiated clients per guest, and a proxy serving one of them for the
 * per-guest increment. Clients are blocking JDK channels held open by the calling thread.
 */
final class MemoryBench implements Benchmark {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** RSS is read after this pause, once the proxy's start-up or the connections have settled. */
    private static final long SETTLE_MILLIS = 2000;

    @Override
    public Report run(BenchOptions options, Workspace workspace) throws IOException, InterruptedException {
        int guests = options.memoryGuests();
        int perGuest = options.memoryClients();
        Proc.requireOpenFiles((long) guests * perGuest + 2L * guests + 200, "memory with " + guests * perGuest + " clients");
        List<QemuProcess> qemus = new ArrayList<>();
        List<Path> listens = new ArrayList<>();
        for (int g = 0; g < guests; g++) {
            Path dir = workspace.subdir(String.format("g%03d", g));
            qemus.add(workspace.qemu(dir, List.of()));
            listens.add(dir.resolve("proxy.sock"));
        }
        long qemuRss = 0;
        for (QemuProcess q : qemus) {
            qemuRss += Proc.rssKib(q.pid());
        }

        long oneGuest = idleRss(workspace, "one", qemus.subList(0, 1), listens.subList(0, 1));
        Path config = config(workspace, "all", qemus, listens);
        Process proxy = startProxy(workspace, "all", config, guests);
        long noClients;
        long withClients;
        List<QmpChannel> clients = new ArrayList<>();
        try {
            Thread.sleep(SETTLE_MILLIS);
            noClients = Proc.rssKib(proxy.pid());
            for (Path listen : listens) {
                for (int c = 0; c < perGuest; c++) {
                    clients.add(QmpChannel.negotiated(listen));
                }
            }
            Thread.sleep(SETTLE_MILLIS);
            withClients = Proc.rssKib(proxy.pid());
        } finally {
            for (QmpChannel c : clients) {
                c.close();
            }
        }
        workspace.stop(proxy);

        int connections = guests * perGuest;
        TextTable.Builder table = new TextTable.Builder("RSS of one proxy process (VmRSS)", "state", "MiB", "KiB per unit");
        table.row("1 guest, 0 clients", Format.mebibytes(oneGuest), "");
        table.row(guests + " guests, 0 clients", Format.mebibytes(noClients),
                guests > 1 ? Format.kibibytes((double) (noClients - oneGuest) / (guests - 1)) + " per guest" : "");
        table.row(guests + " guests, " + connections + " idle clients", Format.mebibytes(withClients),
                connections > 0 ? Format.kibibytes((double) (withClients - noClients) / connections) + " per client" : "");
        table.row("for scale: one QEMU -M none (mean of " + guests + ")", Format.mebibytes(qemuRss / guests), "");
        return new Report("memory", List.of(
                guests + " QEMUs (-M none) and one proxy serving all of them (--config, one event loop thread per "
                        + "guest); " + perGuest + " negotiated idle clients per guest. RSS read from /proc/PID/status "
                        + SETTLE_MILLIS / 1000 + " s after the proxy was ready and again after the clients connected. "
                        + "The JVM's heap grows on demand (the launcher's -XX:+UseSerialGC, default heap limits), so "
                        + "the increments include heap the JVM has not collected yet."),
                List.of(table.build()), List.of());
    }

    private static long idleRss(Workspace workspace, String name, List<QemuProcess> qemus, List<Path> listens)
            throws IOException, InterruptedException {
        Process proxy = startProxy(workspace, name, config(workspace, name, qemus, listens), qemus.size());
        try {
            Thread.sleep(SETTLE_MILLIS);
            return Proc.rssKib(proxy.pid());
        } finally {
            workspace.stop(proxy);
        }
    }

    private static Process startProxy(Workspace workspace, String name, Path config, int guests) throws IOException {
        return workspace.qmpx("proxy", List.of("--config", config.toString(), "--state-dir",
                        workspace.dir().resolve("state-" + name).toString()),
                workspace.dir().resolve("proxy-" + name + ".log"), "accepting clients on", guests);
    }

    private static Path config(Workspace workspace, String name, List<QemuProcess> qemus, List<Path> listens)
            throws IOException {
        ObjectNode root = MAPPER.createObjectNode();
        ArrayNode array = root.putArray("guests");
        for (int g = 0; g < qemus.size(); g++) {
            ObjectNode guest = array.addObject();
            guest.put("name", String.format("g%03d", g));
            guest.put("qemu", qemus.get(g).socket().toString());
            guest.putArray("listen").add(listens.get(g).toString());
        }
        return Files.writeString(workspace.dir().resolve("guests-" + name + ".json"), MAPPER.writeValueAsString(root));
    }
}
