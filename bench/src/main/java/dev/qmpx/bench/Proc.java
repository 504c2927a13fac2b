package dev.qmpx.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Figures the kernel keeps about processes, read from /proc. */
public final class Proc {
    private Proc() {
    }

    /** Resident set size in KiB (VmRSS of /proc/PID/status). */
    public static long rssKib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).strip().split("\\s+")[0]);
            }
        }
        throw new IOException("no VmRSS in /proc/" + pid + "/status");
    }

    /** This process's soft limit on open files; children inherit it. */
    public static long openFileLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String soft = line.substring("Max open files".length()).strip().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
            }
        }
        throw new IOException("no 'Max open files' in /proc/self/limits");
    }

    /** Fails with what to do when this process (and so its children) may not open needed files. */
    public static void requireOpenFiles(long needed, String why) throws IOException {
        long limit = openFileLimit();
        if (limit < needed) {
            throw new IOException(why + " needs about " + needed + " open files, but the limit is " + limit
                    + ": raise it in the shell first (ulimit -n " + needed + ") or use fewer clients");
        }
    }
}
