package dev.qmpx.proxy.downstream;

/** Who a client is: SO_PEERCRED of its socket and the listener it came through. */
public record Peer(long pid, long uid, long gid, String listener) {
    @Override
    public String toString() {
        return "pid=" + pid + " uid=" + uid + " gid=" + gid + ", listener " + listener;
    }
}
