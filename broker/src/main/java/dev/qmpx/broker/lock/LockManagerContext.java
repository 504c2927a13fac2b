package dev.qmpx.broker.lock;

import java.nio.file.Path;

/**
 * What the broker tells a plug-in when loading it.
 *
 * @param apiVersion {@link LockManager#API_VERSION} of this broker
 * @param lockspace a directory for lock files
 */
public record LockManagerContext(int apiVersion, Path lockspace) {
}
