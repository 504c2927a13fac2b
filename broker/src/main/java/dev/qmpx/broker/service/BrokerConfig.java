package dev.qmpx.broker.service;

import java.nio.file.Path;

/**
 * @param lockManager the lock-manager plug-in's name ("none", "fcntl", or a third party's)
 * @param lockspace directory for lock files of the fcntl lock manager
 */
public record BrokerConfig(Path stateDir, Path hookDir, Path adminSocket, String lockManager, Path lockspace) {
}
