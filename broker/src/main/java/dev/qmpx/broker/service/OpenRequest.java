package dev.qmpx.broker.service;

/** An open request: a canonical absolute path, read or read-write, and whether to create it. */
public record OpenRequest(String path, boolean write, boolean create) {
    public String access() {
        return write ? "rw" : "r";
    }
}
