package dev.qmpx.bench;

import dev.qmpx.proxy.demo.QemuProcess;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One QEMU with two monitors and a {@code qmpx proxy} on the second: clients of {@link #direct()}
 * and of {@link #proxied()} talk to the same QEMU, so both paths see the same machine state. The
 * workspace owns and stops both processes.
 */
public record ProxiedQemu(QemuProcess qemu, Path direct, Path proxied, Process proxy) {

    public static ProxiedQemu start(Workspace workspace, List<String> qemuArgs) throws IOException {
        Path dir = workspace.subdir("qemu");
        Path second = dir.resolve("b.sock");
        List<String> args = new ArrayList<>(List.of("-qmp", "unix:" + second + ",server=on,wait=off"));
        args.addAll(qemuArgs);
        QemuProcess qemu = workspace.qemu(dir, args);
        Path listen = workspace.dir().resolve("proxy.sock");
        Process proxy = workspace.qmpx("proxy", List.of("--qemu", second.toString(), "--listen", listen.toString(),
                        "--guest", "bench", "--state-dir", workspace.dir().resolve("state").toString()),
                workspace.dir().resolve("proxy.log"), "accepting clients on", 1);
        return new ProxiedQemu(qemu, qemu.socket(), listen, proxy);
    }
}
