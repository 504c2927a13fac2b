package dev.qmpx.broker.whitelist;

/** What a whitelist entry lets a guest do with a path. */
public enum Right {
    READ, WRITE, CREATE
}
