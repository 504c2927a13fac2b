package dev.qmpx.broker.wire;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Unix socket files: making room for a bind, permissions, adopting a listening socket a parent
 * passed. Shared by the proxy and the broker.
 */
public final class SocketFiles {
    private SocketFiles() {
    }

    /**
     * Makes path free for a bind: a stale socket file (nobody accepting) is removed; a live one,
     * or any other file, is an error.
     */
    public static void clearForBind(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocket(path)) {
            throw new IOException(path + " exists and is not a socket");
        }
        if (isLive(path)) {
            throw new IOException(path + " is in use: another process accepts connections on it");
        }
        Files.delete(path);
    }

    private static boolean isSocket(Path path) throws IOException {
        return Files.readAttributes(path, "unix:mode", LinkOption.NOFOLLOW_LINKS).get("mode") instanceof Integer mode
                && (mode & 0170000) == 0140000;
    }

    private static boolean isLive(Path path) {
        try (AFUNIXSocketChannel probe = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(path))) {
            return probe.isConnected();
        } catch (IOException refusedOrGone) {
            return false;
        }
    }

    /** A listening unix socket inherited as file descriptor fd (bound by the parent or systemd). */
    public static AFUNIXServerSocket inheritListening(int fd) throws IOException {
        AFUNIXServerSocket socket;
        try {
            socket = FileDescriptorCast.unsafeUsing(fd).as(AFUNIXServerSocket.class);
        } catch (IOException | RuntimeException e) {
            throw new IOException("fd " + fd + " is not an open listening unix socket: " + e.getMessage(), e);
        }
        if (!socket.isBound()) {
            throw new IOException("fd " + fd + " is not a bound listening unix socket");
        }
        // The socket file belongs to whoever bound it (the parent, systemd); junixsocket would remove it on close.
        socket.setDeleteOnClose(false);
        return socket;
    }

    /** Permissions from three octal digits, e.g. "600". */
    public static Set<PosixFilePermission> mode(String octal) {
        int bits = Integer.parseInt(octal, 8);
        StringBuilder rwx = new StringBuilder();
        String letters = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            rwx.append((bits & (1 << (8 - i))) != 0 ? letters.charAt(i) : '-');
        }
        return PosixFilePermissions.fromString(rwx.toString());
    }
}
