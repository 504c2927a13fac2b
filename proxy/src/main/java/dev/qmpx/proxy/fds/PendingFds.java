package dev.qmpx.proxy.fds;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The descriptors a client has sent that no command has taken yet, with QEMU's rules for its own
 * monitor (qemu-facts §0.2, §7): newer descriptors close older ones still waiting; getfd/add-fd
 * take the first and QEMU closes the others; whatever is left when the client goes is closed.
 * Loop thread only.
 */
public final class PendingFds {
    private static final Logger LOG = Logger.getLogger(PendingFds.class.getName());
    private static final FileDescriptor[] NONE = new FileDescriptor[0];

    private FileDescriptor[] pending = NONE;

    /** Descriptors that came with the client's latest read. */
    public void receive(FileDescriptor[] fds) {
        closeAll();
        pending = fds;
    }

    /** The first waiting descriptor, or null; the others are closed. */
    FileDescriptor take() {
        if (pending.length == 0) {
            return null;
        }
        FileDescriptor first = pending[0];
        for (int i = 1; i < pending.length; i++) {
            close(pending[i]);
        }
        pending = NONE;
        return first;
    }

    public void closeAll() {
        for (FileDescriptor fd : pending) {
            close(fd);
        }
        pending = NONE;
    }

    /**
     * Closes a descriptor the proxy holds. Closing through a stream also invalidates the shared
     * FileDescriptor, so junixsocket will not close the number again when the socket closes.
     */
    public static void close(FileDescriptor fd) {
        if (fd == null || !fd.valid()) {
            return;
        }
        try {
            new FileInputStream(fd).close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing a descriptor", e);
        }
    }
}
