package dev.qmpx.proxy.fds;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The descriptor a client has sent that no command has taken yet, with QEMU's rules for its own
 * monitor (qemu-facts §0.2, §7): newer descriptors close an older one still waiting; getfd/add-fd
 * take the first of a message and QEMU closes the others, so only the first is kept, and the
 * others are closed as they arrive; whatever is left when the client goes is closed. So a client
 * holds at most one waiting descriptor here, whatever it sends. Loop thread only.
 */
public final class PendingFds {
    private static final Logger LOG = Logger.getLogger(PendingFds.class.getName());

    private FileDescriptor pending;

    /** Descriptors that came with the client's latest read: the first waits, the others are closed. */
    public void receive(FileDescriptor[] fds) {
        closeAll();
        for (int i = 1; i < fds.length; i++) {
            close(fds[i]);
        }
        pending = fds.length > 0 ? fds[0] : null;
    }

    /** The waiting descriptor, or null. */
    FileDescriptor take() {
        FileDescriptor first = pending;
        pending = null;
        return first;
    }

    public void closeAll() {
        close(pending);
        pending = null;
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
