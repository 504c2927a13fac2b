package dev.qmpx.proxy.downstream;

import dev.qmpx.proxy.policy.RemoteIdentity;

/**
 * Who a client is: SO_PEERCRED of its unix socket (pid, uid, gid; -1 for a network client), the
 * listener it came through, and for a network client what it proved (null for a unix client).
 */
public record Peer(long pid, long uid, long gid, String listener, RemoteIdentity remote) {
    public Peer(long pid, long uid, long gid, String listener) {
        this(pid, uid, gid, listener, null);
    }

    public static Peer network(String listener, RemoteIdentity remote) {
        return new Peer(-1, -1, -1, listener, remote);
    }

    @Override
    public String toString() {
        return (remote != null ? remote.toString() : "pid=" + pid + " uid=" + uid + " gid=" + gid) + ", listener " + listener;
    }
}
