package dev.qmpx.proxy.routing;

import dev.qmpx.proxy.fds.PendingFds;

import java.io.FileDescriptor;

/**
 * A command on its way to QEMU.
 *
 * @param name the command name, for logs
 * @param prefix the encoded command up to its closing brace (see UpstreamEncoding)
 * @param fds descriptors to pass in the same sendmsg, or an empty array
 */
public record Outgoing(String name, byte[] prefix, FileDescriptor[] fds, ReplyHandler handler) {
    private static final FileDescriptor[] NONE = new FileDescriptor[0];

    public Outgoing(String name, byte[] prefix, ReplyHandler handler) {
        this(name, prefix, NONE, handler);
    }

    public boolean carriesFds() {
        return fds.length > 0;
    }

    /** Closes the proxy's copies of the fds: once sent (QEMU holds its own), or when dropped. */
    public void closeFds() {
        for (FileDescriptor fd : fds) {
            PendingFds.close(fd);
        }
    }
}
