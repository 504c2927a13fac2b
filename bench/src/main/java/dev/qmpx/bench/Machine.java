package dev.qmpx.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the figures were measured on, printed above every run and written into results.md. */
public record Machine(int cores, String cpuModel, String kernel, String jdk, String qemu) {

    public static Machine detect(String qemuBinary) throws IOException, InterruptedException {
        String model = "unknown";
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                model = line.substring(line.indexOf(':') + 1).strip();
                break;
            }
        }
        String kernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        String jdk = System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version");
        Process version = new ProcessBuilder(qemuBinary, "--version").redirectErrorStream(true).start();
        String qemu = new String(version.getInputStream().readAllBytes()).lines().findFirst().orElse("unknown");
        version.waitFor();
        return new Machine(Runtime.getRuntime().availableProcessors(), model, kernel, jdk, qemu);
    }

    public TextTable table() {
        return new TextTable("Machine", List.of("item", "value"), List.of(
                List.of("cores", Integer.toString(cores)),
                List.of("CPU", cpuModel),
                List.of("kernel", kernel),
                List.of("JDK", jdk),
                List.of("QEMU", qemu)));
    }
}
