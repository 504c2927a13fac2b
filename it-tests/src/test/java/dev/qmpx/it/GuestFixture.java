package dev.qmpx.it;

import dev.qmpx.client.QmpClient;
import dev.qmpx.proxy.demo.QemuProcess;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real QEMU with two QMP monitors, one for the proxy and one for a direct client (to compare
 * what QEMU itself answers), and a real proxy process in front of the first.
 */
final class GuestFixture implements AutoCloseable {
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    final WorkDir dir;
    final QemuProcess qemu;
    final Path direct;
    final Path listen;
    final ProxyProcess proxy;

    private GuestFixture(WorkDir dir, QemuProcess qemu, Path direct, Path listen, ProxyProcess proxy) {
        this.dir = dir;
        this.qemu = qemu;
        this.direct = direct;
        this.listen = listen;
        this.proxy = proxy;
    }

    static GuestFixture start(String... proxyOptions) throws IOException {
        return start(java.util.Map.of(), proxyOptions);
    }

    /** @param env the proxy's extra environment, e.g. QMPX_JAVA_OPTIONS with a heap size or a fault point */
    static GuestFixture start(java.util.Map<String, String> env, String... proxyOptions) throws IOException {
        WorkDir dir = new WorkDir();
        Path direct = dir.resolve("direct.sock");
        QemuProcess qemu = QemuProcess.start(dir.path,
                List.of("-qmp", "unix:" + direct + ",server=on,wait=off"));
        Path listen = dir.resolve("proxy.sock");
        List<String> args = new ArrayList<>(List.of("--qemu", qemu.socket().toString(), "--listen", listen.toString()));
        args.addAll(List.of(proxyOptions));
        ProxyProcess proxy = ProxyProcess.start(dir.resolve("proxy.log"), args, null, env);
        return new GuestFixture(dir, qemu, direct, listen, proxy);
    }

    QmpClient client() throws IOException {
        return QmpClient.negotiated(listen, TIMEOUT);
    }

    QmpClient directClient() throws IOException {
        return QmpClient.negotiated(direct, TIMEOUT);
    }

    @Override
    public void close() throws Exception {
        try {
            proxy.close();
        } finally {
            try {
                qemu.close();
            } finally {
                dir.close();
            }
        }
    }
}
