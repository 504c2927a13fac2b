package dev.qmpx.bench;

import java.io.IOException;

/** One benchmark: starts what it measures in its workspace (which is closed after it), returns its report. */
public interface Benchmark {
    Report run(BenchOptions options, Workspace workspace) throws IOException, InterruptedException;
}
