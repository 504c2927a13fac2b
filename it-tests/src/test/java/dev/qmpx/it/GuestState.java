package dev.qmpx.it;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What a failed or undone snapshot must leave as it was: the block graph's node names, QEMU's
 * fdsets and open fds, the base images' contents.
 */
record GuestState(List<String> nodes, String fdsets, Map<Integer, String> qemuFds, Map<Path, String> bases) {
    static GuestState of(Sandbox box) throws Exception {
        return new GuestState(Sandbox.nodeNames(box.graph()), box.fdsets(), ProcFds.targets(box.qemu.pid()), box.baseChecksums());
    }

    /** @param when said in failure messages, e.g. "after record 3" */
    void awaitBack(Sandbox box, String when) throws Exception {
        assertEquals(nodes, Sandbox.nodeNames(box.graph()), "graph " + when);
        Await.until("fdsets as before " + when, Sandbox.TIMEOUT, () -> box.fdsets().equals(fdsets));
        ProcFds.awaitCount("QEMU " + when, box.qemu.pid(), qemuFds, Sandbox.TIMEOUT);
        assertEquals(bases, box.baseChecksums(), "base images " + when);
    }
}
