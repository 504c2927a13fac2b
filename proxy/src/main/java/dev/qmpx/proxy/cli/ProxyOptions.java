package dev.qmpx.proxy.cli;

import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;
import dev.qmpx.broker.wire.ActivatedSockets;

import dev.qmpx.proxy.downstream.UnixClients;
import dev.qmpx.proxy.metrics.MetricsEndpoint;
import dev.qmpx.proxy.metrics.ProxyMetrics;
import dev.qmpx.proxy.policy.CommandAudit;
import dev.qmpx.proxy.policy.Policy;
import dev.qmpx.proxy.remote.RemoteOptions;
import dev.qmpx.proxy.routing.GuestConfig;

import java.io.FileOutputStream;
import java.io.IOException;
import dev.qmpx.qmp.json.JsonLimits;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The options of {@code qmpx proxy}: one guest from the command line, or several from --config. */
record ProxyOptions(List<GuestSpec> guests, String socketMode, int maxClients, boolean verbose,
                    MetricsEndpoint.Address metrics, ProxyMetrics registry, RemoteOptions remote) {

    /** One guest and the sockets its clients connect to. */
    record GuestSpec(GuestConfig config, List<Path> listenPaths, List<Integer> listenFds) {
    }

    static final String HELP = """
            NAME
                qmpx proxy - share one QEMU QMP monitor among many clients

            SYNOPSIS
                qmpx proxy --qemu SOCKET (--listen PATH | --listen-fd N)... [OPTION]...
                qmpx proxy --config FILE [OPTION]...

            DESCRIPTION
                Owns the one QMP connection QEMU allows and serves any number of QMP
                clients on the sockets it listens on. Each client gets QEMU's greeting
                and negotiates for itself; its ids come back exactly as sent; every
                negotiated client receives every event.

                At least one listener is needed: --listen, --listen-fd, a socket passed
                by systemd (below) or a network listener (--listen-tls, --listen-ws,
                --insecure-listen). With --config one process serves several guests.

                Socket activation (systemd, sd_listen_fds): when LISTEN_PID is this
                process, the LISTEN_FDS listening sockets from fd 3 on are accepted on
                too: all of them for the one guest of --qemu; with --config each goes to
                the guest its FileDescriptorName names (that guest's "listen" may then
                be left out).

                Logs go to stderr, one line each.

            OPTIONS
              One guest:
                --qemu SOCKET             QEMU's QMP socket
                                          (-qmp unix:SOCKET,server=on,wait=off). The
                                          proxy retries until QEMU is there.
                --listen PATH             Bind a unix socket for clients at PATH
                                          (repeatable). A stale socket file is
                                          replaced; a live one is an error.
                --listen-fd N             Accept clients on listening unix socket fd N,
                                          bound and passed by the parent process
                                          (repeatable).
                --guest NAME              Name used in logs (default: the QEMU socket's
                                          file name without .sock).
                --reconnect               When QEMU goes away, wait for it to come back
                                          instead of exiting; clients are disconnected
                                          and reconnect.

              Many guests in one process:
                --config FILE             A JSON file naming the guests, instead of
                                          --qemu, --listen, --listen-fd, --guest and
                                          --broker:
                                            {"guests": [{"name": "vm1",
                                              "qemu": "/run/vm1/qmp.sock",
                                              "listen": ["/run/qmpx/vm1.sock"],
                                              "broker": "/run/qmpx/hooks/vm1.sock"},
                                              ...]}
                                          ("broker" is optional.) Each guest has its own
                                          event loop thread; the other options apply to
                                          every guest. A guest whose QEMU goes away
                                          waits for it to come back (as with
                                          --reconnect) and never affects the others.

              Clients:
                --socket-mode OCTAL       Permissions of --listen sockets (default 600:
                                          a monitor client controls the guest, so only
                                          the owner may connect).
                --max-in-flight N         Commands sent to QEMU and not yet answered
                                          (1-64, default 8).
                --max-message-bytes N     Largest client message (default 1048576).
                                          Larger input is answered "JSON token size
                                          limit exceeded", as QEMU does.
                --max-nesting N           Deepest client nesting (1-4096, default 1024,
                                          QEMU's own).
                --client-output-limit N   Bytes queued for a client that does not read
                                          before it is disconnected (default 8388608).
                --client-queue-limit N    A client's unanswered commands before the
                                          proxy stops reading from it (default 64).
                --max-clients N           Unix clients of one guest at a time, over all
                                          its listeners (default 64). One more gets an
                                          error line instead of the greeting and is
                                          closed (logged); the others go on. Admin
                                          clients have --max-clients slots of their
                                          own, so no other role can lock them out.
                --negotiation-timeout SECONDS
                                          A client that has not sent qmp_capabilities
                                          this long after its greeting gets an error
                                          line and is disconnected (default 10).

              Files through the broker, snapshots:
                --broker SOCKET           The guest's open-hook socket (qmpx broker):
                                          files named in blockdev-add, blockdev-create,
                                          drive-backup, drive-mirror are opened or
                                          created by the broker and passed to QEMU as
                                          fdsets; blockdev-snapshot-sync and
                                          transactions of it become orchestrated
                                          snapshots (see the README). A QEMU that may
                                          open no image itself still takes disks.
                                          Without a reachable broker such commands are
                                          refused.
                --broker-timeout SECONDS  How long one broker request may take
                                          (default 30).
                --state-dir DIR           Where snapshot journals are kept, so that a
                                          proxy killed during a snapshot finishes or
                                          undoes it when it starts again (default
                                          $XDG_RUNTIME_DIR/qmpx, else /run/qmpx for
                                          root, else /tmp/qmpx-USER). Created with
                                          mode 700.

              Roles, jobs and timeouts:
                --policy FILE             Roles for clients by guest, listener, uid or
                                          gid (JSON; see the README). Built-in roles:
                                          admin (everything), operator and readonly
                                          (explicit command lists with argument
                                          rules), none. Without --policy every client
                                          is admin; a policy without "default" gives
                                          clients no rule matches no role: they get an
                                          error line and are disconnected.
                --audit FILE              One JSON line per state-changing or refused
                                          command (default: stderr).
                --job-wait SECONDS        How long a state-changing command waits for
                                          the guest's job, held by another client,
                                          before it fails (default 30).
                --job-idle SECONDS        A job taken with __dev.qmpx_job-begin is
                                          released after this long without a command
                                          that needs it; queries do not count
                                          (default 60).
                --job-max SECONDS         ...and after this long in any case
                                          (default 600). An admin can also take it
                                          back with __dev.qmpx_job-break. The
                                          holder's next command is told why.
                --query-timeout SECONDS   Reply timeout of queries (default 10).
                --command-timeout SECONDS
                                          Reply timeout of other commands (default 60).
                --job-command-timeout SECONDS
                                          Reply timeout of commands that start a QEMU
                                          job (migrate, blockdev-backup, ...; default
                                          600).

              Logs and metrics:
                --verbose                 Log every frame with the client it belongs
                                          to.
                --log-format text|json    stderr log lines as text (default) or as one
                                          JSON object each: time, level, logger,
                                          thread, message, error.
                --metrics [HOST:]PORT     Serve Prometheus metrics at
                                          http://HOST:PORT/metrics (HOST defaults to
                                          127.0.0.1; port 0 picks a free one, which the
                                          log names): commands by guest, name and
                                          result with latency histograms, per-client
                                          counters, events, clients, job waits, fds
                                          received and passed, broker requests.

              Network front end (the gateway module; see the README for the policy
              rules):
                --listen-tls HOST:PORT    QMP over TLS 1.3, one JSON message per line
                                          (repeatable). The client names its guest
                                          with TLS SNI: the guest's name or
                                          NAME.any.domain (optional with one guest).
                --listen-ws HOST:PORT     QMP over WebSocket on the same TLS, one
                                          message per text frame, at
                                          wss://HOST:PORT/qmp/GUEST (/qmp with one
                                          guest), and the status page at
                                          https://HOST:PORT/ (repeatable).
                --insecure-listen 127.0.0.1:PORT
                                          Plain TCP QMP without TLS or authentication,
                                          loopback addresses only, one guest only
                                          (repeatable).
                --tls-cert FILE           The server's certificate chain (PEM).
                --tls-key FILE            Its private key (PEM, unencrypted PKCS#8).
                --tls-ca FILE             CA certificates that sign client certificates
                                          (PEM).
                --tls-client-auth required|optional
                                          required (default): every TLS client
                                          presents a certificate the CA signed.
                                          optional: WebSocket and page clients without
                                          one present a bearer token instead
                                          (Authorization: Bearer, or the page's
                                          cookie).
                --tls-min-version 1.3|1.2
                                          Also offer TLS 1.2 with 1.2 (default 1.3
                                          only).
                --tls-handshake-timeout SECONDS
                                          A TLS handshake not done by then is dropped
                                          (default 10).
                --http-request-timeout SECONDS
                                          After its TLS handshake a --listen-ws client
                                          sends a whole HTTP request and sees its
                                          WebSocket upgrade through within this, or
                                          is dropped (default 10).
                --ws-idle-timeout SECONDS A WebSocket that sends nothing for this long
                                          is closed; the proxy pings it at half the
                                          time, and the pong counts (default 60).
                --max-connections N       Connections each network listener holds at
                                          once; more are closed at accept, logged
                                          (default 512).
                --max-connections-per-address N
                                          The same for one peer IP address on one
                                          listener (default 64).
                Network clients get roles from --policy rules on the certificate's
                "subject" or typed "san" (dns:, email:, uri:, ip:), or on
                "token-sha256"; getfd and add-fd are refused
                (fds cannot cross TCP).

                -h, --help                Show this text.

            ENVIRONMENT
                LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES
                                          Sockets passed by systemd (see DESCRIPTION).
                XDG_RUNTIME_DIR           The default --state-dir is under it.
                JAVA_HOME, QMPX_JAVA_OPTIONS, QMPX_CLASSPATH
                                          See qmpx --help.

            FILES
                STATE-DIR/GUEST.snapshot-journal
                                          The steps of a snapshot in progress, each on
                                          disk before it is taken; the next proxy for
                                          the guest finishes or undoes the snapshot.
                STATE-DIR/GUEST.getfd-names
                                          Its clients' getfd names in QEMU; the next
                                          proxy closes those left behind (closefd).
                dist/systemd/qmpx-proxy.service, dist/systemd/qmpx-guest@.socket
                                          Units for socket activation.

            EXIT STATUS
                0   Stopped by SIGTERM (or SIGINT).
                1   An unexpected failure while starting (the message says what).
                2   Bad options, sockets or config (the message says which).
                3   QEMU went away (after quit, a crash or a kill) and neither
                    --reconnect nor --config was given.
                70  A guest's event loop failed (an OutOfMemoryError, say): the log
                    says why; a supervisor should start the proxy again (QEMU keeps
                    running; clients reconnect).

            EXAMPLES
                qmpx proxy --qemu /run/vm1/qmp.sock --listen /run/qmpx/vm1.sock
                qmpx proxy --qemu /run/vm1/qmp.sock --listen /run/qmpx/vm1.sock \\
                    --listen /run/qmpx/vm1-ro.sock --socket-mode 660 \\
                    --policy vm1-policy.json --broker /run/qmpx/hooks/vm1.sock
                qmpx proxy --config guests.json --metrics 9100 --log-format json
                qmpx proxy --config guests.json --policy policy.json \\
                    --listen-tls 0.0.0.0:4444 --listen-ws 0.0.0.0:4443 \\
                    --tls-cert server.crt --tls-key server.key --tls-ca clients-ca.crt

            SEE ALSO
                qmpx broker --help, qmpx shell --help, qmpx --help; the README's "Using
                the proxy" and "Remote clients"; qemu-system-x86_64(1).
            """;

    static ProxyOptions parse(String[] args) throws UsageException {
        Arguments a = new Arguments(args);
        Path qemu = null;
        String name = null;
        boolean reconnect = false;
        boolean verbose = false;
        int maxInFlight = GuestConfig.DEFAULT_MAX_IN_FLIGHT;
        int maxMessage = JsonLimits.CLIENT_DEFAULT.maxMessageBytes();
        int maxNesting = JsonLimits.CLIENT_DEFAULT.maxNesting();
        long outputLimit = GuestConfig.DEFAULT_CLIENT_OUTPUT_LIMIT;
        int queueLimit = GuestConfig.DEFAULT_CLIENT_QUEUE_LIMIT;
        int maxClients = UnixClients.DEFAULT_MAX;
        String socketMode = "600";
        GuestConfig.Timeouts d = GuestConfig.Timeouts.DEFAULT;
        long queryTimeout = d.queryMillis();
        long commandTimeout = d.modifyMillis();
        long jobCommandTimeout = d.jobMillis();
        long jobWait = d.jobWaitMillis();
        long jobIdle = d.jobIdleMillis();
        long jobMax = d.jobMaxMillis();
        long negotiation = d.negotiationMillis();
        Path policyFile = null;
        Path auditFile = null;
        Path broker = null;
        long brokerTimeout = 30_000;
        Path stateDir = GuestConfig.defaultStateDir();
        Path configFile = null;
        MetricsEndpoint.Address metrics = null;
        RemoteOptions.Builder remote = new RemoteOptions.Builder();
        List<Path> paths = new ArrayList<>();
        List<Integer> fds = new ArrayList<>();
        while (a.hasNext()) {
            String option = a.next();
            switch (option) {
                case "--config" -> configFile = Path.of(a.value(option));
                case "--qemu" -> qemu = Path.of(a.value(option));
                case "--listen" -> paths.add(Path.of(a.value(option)).toAbsolutePath());
                case "--listen-fd" -> fds.add(a.intValue(option, 0, Integer.MAX_VALUE));
                case "--guest" -> name = a.value(option);
                case "--socket-mode" -> {
                    socketMode = a.value(option);
                    if (!socketMode.matches("[0-7]{3}")) {
                        throw new UsageException("--socket-mode needs three octal digits such as 600 or 660, got '"
                                + socketMode + "'");
                    }
                }
                case "--reconnect" -> reconnect = true;
                case "--max-in-flight" -> maxInFlight = a.intValue(option, 1, 64);
                case "--max-message-bytes" -> maxMessage = a.intValue(option, 64, Integer.MAX_VALUE - 8);
                case "--max-nesting" -> maxNesting = a.intValue(option, 1, JsonLimits.NESTING_CEILING);
                case "--client-output-limit" -> outputLimit = a.longValue(option, 65536);
                case "--client-queue-limit" -> queueLimit = a.intValue(option, 1, 1 << 20);
                case "--max-clients" -> maxClients = a.intValue(option, 1, 1 << 16);
                case "--verbose" -> verbose = true;
                case "--listen-tls", "--listen-ws", "--insecure-listen", "--tls-cert", "--tls-key", "--tls-ca",
                     "--tls-client-auth", "--tls-min-version" -> remote.accept(option, a.value(option));
                case "--tls-handshake-timeout" -> remote.handshakeTimeout(a.secondsAsMillis(option));
                case "--http-request-timeout" -> remote.requestTimeout(a.secondsAsMillis(option));
                case "--ws-idle-timeout" -> remote.wsIdleTimeout(a.secondsAsMillis(option));
                case "--max-connections" -> remote.maxConnections(a.intValue(option, 1, 1 << 20));
                case "--max-connections-per-address" -> remote.maxConnectionsPerAddress(a.intValue(option, 1, 1 << 20));
                case "--metrics" -> {
                    try {
                        metrics = MetricsEndpoint.Address.parse(a.value(option));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--metrics: " + e.getMessage());
                    }
                }
                case "--policy" -> policyFile = Path.of(a.value(option));
                case "--audit" -> auditFile = Path.of(a.value(option));
                case "--broker" -> broker = Path.of(a.value(option)).toAbsolutePath();
                case "--broker-timeout" -> brokerTimeout = a.secondsAsMillis(option);
                case "--state-dir" -> stateDir = Path.of(a.value(option)).toAbsolutePath();
                case "--job-wait" -> jobWait = a.secondsAsMillis(option);
                case "--job-idle" -> jobIdle = a.secondsAsMillis(option);
                case "--job-max" -> jobMax = a.secondsAsMillis(option);
                case "--negotiation-timeout" -> negotiation = a.secondsAsMillis(option);
                case "--query-timeout" -> queryTimeout = a.secondsAsMillis(option);
                case "--command-timeout" -> commandTimeout = a.secondsAsMillis(option);
                case "--job-command-timeout" -> jobCommandTimeout = a.secondsAsMillis(option);
                default -> throw UsageException.unknownOption(option, "proxy");
            }
        }
        if (configFile != null && (qemu != null || name != null || broker != null || !paths.isEmpty() || !fds.isEmpty())) {
            throw new UsageException("--config names the guests: --qemu, --guest, --broker, --listen and --listen-fd "
                    + "belong in its entries");
        }
        if (configFile == null && qemu == null) {
            throw new UsageException("--qemu SOCKET (or --config FILE) is required (see qmpx proxy --help)");
        }
        RemoteOptions remoteOptions = remote.build();
        ActivatedSockets activated;
        try {
            activated = ActivatedSockets.fromEnvironment();
        } catch (IllegalArgumentException e) {
            throw new UsageException("socket activation: " + e.getMessage());
        }
        if (configFile == null) {
            activated.sockets().forEach(socket -> fds.add(socket.fd()));
        }
        if (configFile == null && paths.isEmpty() && fds.isEmpty() && remoteOptions == null) {
            throw new UsageException("at least one --listen PATH, --listen-fd N or network listener is required");
        }
        Policy policy;
        try {
            policy = policyFile == null ? Policy.everyoneAdmin() : Policy.load(policyFile);
        } catch (IOException e) {
            throw new UsageException("--policy " + policyFile + ": " + e.getMessage());
        }
        CommandAudit audit;
        try {
            audit = new CommandAudit(auditFile == null ? System.err : new FileOutputStream(auditFile.toFile(), true));
        } catch (IOException e) {
            throw new UsageException("--audit " + auditFile + ": " + e.getMessage());
        }
        GuestConfig.Timeouts timeouts = new GuestConfig.Timeouts(queryTimeout, commandTimeout, jobCommandTimeout, jobWait, jobIdle,
                jobMax, negotiation);
        JsonLimits limits = new JsonLimits(maxMessage, maxNesting);
        Path state = stateDir;
        int inFlight = maxInFlight;
        long output = outputLimit;
        int queue = queueLimit;
        long brokerMillis = brokerTimeout;
        ProxyMetrics registry = new ProxyMetrics();
        GuestFactory factory = (guestName, qemuSocket, again, guestBroker) -> new GuestConfig(guestName, qemuSocket, again,
                inFlight, limits, output, queue, timeouts, policy, audit, guestBroker, brokerMillis, state, registry);
        if (configFile != null) {
            return new ProxyOptions(ProxyConfigFile.read(configFile, factory, activated), socketMode, maxClients, verbose,
                    metrics, registry, remoteOptions);
        }
        if (name == null) {
            name = qemu.getFileName().toString().replaceFirst("\\.sock$", "");
        }
        return new ProxyOptions(List.of(new GuestSpec(factory.create(name, qemu, reconnect, broker), paths, fds)),
                socketMode, maxClients, verbose, metrics, registry, remoteOptions);
    }

    /** A guest's settings from its own parts and the options shared by every guest. */
    interface GuestFactory {
        GuestConfig create(String name, Path qemu, boolean reconnect, Path broker);
    }
}
