package dev.qmpx.broker.cli;

import dev.qmpx.broker.admin.AdminProtocol;
import dev.qmpx.broker.audit.AuditLog;
import dev.qmpx.broker.hook.HookProtocol;
import dev.qmpx.broker.service.Broker;
import dev.qmpx.broker.service.BrokerConfig;
import dev.qmpx.broker.wire.JsonSocketServer;
import dev.qmpx.broker.wire.ActivatedSockets;
import dev.qmpx.broker.wire.SocketFiles;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/** {@code qmpx broker}: the open-hook fd broker, until SIGTERM. */
public final class BrokerCommand {
    private static final Logger LOG = Logger.getLogger(BrokerCommand.class.getName());

    public static final String HELP = """
            NAME
                qmpx broker - open guest files from per-guest whitelists, pass their fds

            SYNOPSIS
                qmpx broker --state DIR --hook-dir DIR --admin SOCKET [OPTION]...

            DESCRIPTION
                The only qmpx process that opens guest files. For each registered guest
                it listens on HOOK-DIR/GUEST.sock (mode 600; owned by the guest's uid
                when one is bound) and answers
                  {"open": "/abs/path", "access": "r"|"rw", "create": false, "id": N}
                with the file's fd (SCM_RIGHTS) if the guest's whitelist allows it, or
                with an error whose class is PermissionDenied, NotFound, LockConflict or
                InvalidRequest. Default deny; canonical absolute paths only; no symlink
                is followed (openat2 RESOLVE_NO_SYMLINKS); create is exclusive and never
                truncates; device nodes and FIFOs only where an entry allows them.

                Guests and their whitelists change at run time through the admin
                socket: qmpx register, unregister, allow, revoke, whitelist, grants,
                status (qmpx allow --help).

                Socket activation: when started by systemd (LISTEN_PID, LISTEN_FDS) with
                one socket, or with one whose FileDescriptorName is "admin", that socket
                is the admin socket and --admin may be left out; the broker then never
                binds or removes it.

                Run it with umask 077: a hook socket has the umask's mode between its
                bind and the chmod to 600 that follows.

            OPTIONS
              Required:
                --state DIR             Registrations, whitelists and leases
                                        (broker-state.json, written atomically; a
                                        corrupt file stops the broker).
                --hook-dir DIR          Where the guests' hook sockets are created.
                --admin SOCKET          The admin socket (mode 600; root and the
                                        broker's uid only). Optional when a service
                                        manager passes it (see DESCRIPTION).

              Other options:
                --lock-manager NAME     Lock-manager plug-in: none (default), fcntl, or
                                        a third party's on the class path
                                        (QMPX_CLASSPATH). If it cannot load or
                                        refuses, every open is refused until it is
                                        fixed.
                --lockspace DIR         Lock files of the fcntl lock manager (default
                                        STATE/lockspace).
                --audit FILE            One JSON line per grant and denial (default
                                        STATE/audit.log; - for stderr).
                --log-format text|json  stderr log lines as text (default) or as one
                                        JSON object each: time, level, logger, thread,
                                        message, error.
                -h, --help              Show this text.

            ENVIRONMENT
                LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES
                                        The admin socket passed by systemd.
                QMPX_CLASSPATH          Where third-party lock managers are found (see
                                        qmpx --help).

            FILES
                STATE/broker-state.json
                                        Registrations, whitelists and leases, with a
                                        SHA-256 line; never loaded in part.
                STATE/audit.log         The audit, unless --audit says otherwise.
                STATE/lockspace/        The fcntl lock manager's lock files, one per
                                        image, named by the SHA-256 of its path.
                HOOK-DIR/GUEST.sock     Each registered guest's hook socket.
                dist/systemd/qmpx-broker.service, dist/systemd/qmpx-broker.socket
                                        Units for socket activation.

            EXIT STATUS
                0   Stopped by SIGTERM (or SIGINT).
                1   The state could not be loaded (a torn or corrupt broker-state.json),
                    or a directory, the audit file or the admin socket could not be
                    made (a live socket at --admin, say).
                2   Bad options, or sockets from systemd it cannot use.

            EXAMPLES
                umask 077
                qmpx broker --state /var/lib/qmpx --hook-dir /run/qmpx/hooks \\
                    --admin /run/qmpx/broker.sock --lock-manager fcntl

            SEE ALSO
                qmpx allow --help, qmpx proxy --help, qmpx --help; the README's "The
                open-hook fd broker".
            """;

    private BrokerCommand() {
    }

    public static int run(String[] args) throws UsageException, IOException, InterruptedException {
        Arguments a = new Arguments(args);
        Path state = null;
        Path hookDir = null;
        Path admin = null;
        String lockManager = "none";
        Path lockspace = null;
        String audit = null;
        while (a.hasNext()) {
            String option = a.next();
            switch (option) {
                case "--state" -> state = Path.of(a.value(option)).toAbsolutePath();
                case "--hook-dir" -> hookDir = Path.of(a.value(option)).toAbsolutePath();
                case "--admin" -> admin = Path.of(a.value(option)).toAbsolutePath();
                case "--lock-manager" -> lockManager = a.value(option);
                case "--lockspace" -> lockspace = Path.of(a.value(option)).toAbsolutePath();
                case "--audit" -> audit = a.value(option);
                default -> throw UsageException.unknownOption(option, "broker");
            }
        }
        AFUNIXServerSocket activatedAdmin = activatedAdminSocket();
        if (state == null || hookDir == null || (admin == null && activatedAdmin == null)) {
            throw new UsageException("--state DIR, --hook-dir DIR and --admin SOCKET (or a socket passed by systemd) are "
                    + "required (see qmpx broker --help)");
        }
        Files.createDirectories(state);
        Files.createDirectories(hookDir);
        BrokerConfig config = new BrokerConfig(state, hookDir, admin, lockManager,
                lockspace != null ? lockspace : state.resolve("lockspace"));
        OutputStream auditOut = audit != null && audit.equals("-") ? System.err
                : new FileOutputStream((audit != null ? Path.of(audit) : state.resolve("audit.log")).toFile(), true);
        Broker broker;
        try {
            broker = Broker.open(config, new AuditLog(auditOut), Thread.currentThread().getContextClassLoader());
        } catch (IOException e) {
            LOG.severe(e.getMessage());
            return 1;
        }
        HookSockets hooks = new HookSockets(broker, hookDir);
        for (Broker.Guest guest : broker.guests()) {
            try {
                hooks.started(guest.name(), guest.uid());
            } catch (dev.qmpx.broker.service.AdminException e) {
                LOG.severe("guest " + guest.name() + " is not served: " + e.getMessage());
            }
        }
        // A socket the service manager passed is its to create and remove; the broker only accepts on it.
        Path adminSocket = activatedAdmin == null ? admin : null;
        AFUNIXServerSocket adminServer = activatedAdmin;
        if (adminServer == null) {
            SocketFiles.clearForBind(adminSocket);
            adminServer = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(adminSocket));
            Files.setPosixFilePermissions(adminSocket, SocketFiles.mode("600"));
        }
        long ownUid = ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
        JsonSocketServer adminService = new JsonSocketServer("admin", adminServer, AdminProtocol.sessions(broker, hooks, ownUid));
        adminService.start();
        LOG.info("broker serving: admin " + (adminSocket != null ? adminSocket : "socket from systemd") + ", hook sockets in " + hookDir + ", lock manager "
                + lockManager + (broker.lockFailure() == null ? "" : " (FAILED: " + broker.lockFailure() + ")"));
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            adminService.close();
            hooks.closeAll();
            try {
                if (adminSocket != null) {
                    Files.deleteIfExists(adminSocket);
                }
            } catch (IOException e) {
                LOG.fine("removing " + adminSocket + ": " + e.getMessage());
            }
            stop.countDown();
            // SIGTERM or SIGINT: a requested stop, so status 0 (the JVM would report 143).
            Runtime.getRuntime().halt(0);
        }, "broker-shutdown"));
        stop.await();
        return 0;
    }

    /** The admin socket systemd passed (the one socket, or the one named "admin"), or null. */
    private static AFUNIXServerSocket activatedAdminSocket() throws UsageException {
        ActivatedSockets activated;
        try {
            activated = ActivatedSockets.fromEnvironment();
        } catch (IllegalArgumentException e) {
            throw new UsageException("socket activation: " + e.getMessage());
        }
        if (activated.isEmpty()) {
            return null;
        }
        List<ActivatedSockets.Socket> admin = activated.sockets().size() == 1 ? activated.sockets() : activated.named("admin");
        if (admin.size() != 1) {
            throw new UsageException("socket activation: " + activated.sockets().size()
                    + " sockets passed and not exactly one named 'admin' (FileDescriptorName=admin)");
        }
        try {
            return SocketFiles.inheritListening(admin.getFirst().fd());
        } catch (IOException e) {
            throw new UsageException("socket activation: " + e.getMessage());
        }
    }

    /** The hook socket of each registered guest. Thread-safe. */
    static final class HookSockets implements AdminProtocol.Listeners {
        private final Broker broker;
        private final Path dir;
        private final Map<String, JsonSocketServer> servers = new ConcurrentHashMap<>();

        HookSockets(Broker broker, Path dir) {
            this.broker = broker;
            this.dir = dir;
        }

        /**
         * Binds the guest's socket and sets it to mode 600 (and the bound uid). Between the bind and
         * the chmod the socket has the umask's mode: run the broker with umask 077 (a service manager can set it) to close that window. (A bind under a temporary name and a rename would avoid
         * it, but junixsocket's server socket stops accepting once its path is renamed.)
         */
        @Override
        public synchronized String started(String guest, Integer uid) throws dev.qmpx.broker.service.AdminException {
            Path socket = dir.resolve(guest + ".sock");
            if (socket.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= 108) {
                throw new dev.qmpx.broker.service.AdminException("InvalidRequest", "the hook socket path " + socket
                        + " would be 108 bytes or longer: use a shorter guest name or --hook-dir");
            }
            try {
                if (!servers.containsKey(guest)) {
                    SocketFiles.clearForBind(socket);
                    AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket));
                    Files.setPosixFilePermissions(socket, SocketFiles.mode("600"));
                    JsonSocketServer service = new JsonSocketServer("hook-" + guest, server, HookProtocol.sessions(broker, guest));
                    servers.put(guest, service);
                    service.start();
                }
                if (uid != null) {
                    Files.setAttribute(socket, "unix:uid", uid);
                }
            } catch (IOException e) {
                throw new dev.qmpx.broker.service.AdminException("InvalidRequest", "cannot create " + socket + ": " + e.getMessage());
            }
            LOG.info("guest " + guest + ": hook socket " + socket + (uid == null ? "" : " (uid " + uid + " only)"));
            return socket.toString();
        }

        @Override
        public synchronized void stopped(String guest) {
            JsonSocketServer server = servers.remove(guest);
            if (server != null) {
                server.close();
            }
            try {
                Files.deleteIfExists(dir.resolve(guest + ".sock"));
            } catch (IOException e) {
                LOG.fine("removing " + guest + "'s socket: " + e.getMessage());
            }
        }

        void closeAll() {
            servers.values().forEach(JsonSocketServer::close);
        }
    }
}
