package dev.qmpx.proxy.cli;

import dev.qmpx.broker.cli.Arguments;
import dev.qmpx.broker.cli.UsageException;

import dev.qmpx.broker.cli.AdminCommands;
import dev.qmpx.broker.cli.BrokerCommand;
import dev.qmpx.proxy.demo.Demo;
import dev.qmpx.proxy.logging.LogFormat;
import dev.qmpx.shell.Shell;

import java.io.IOException;

/** Entry point of bin/qmpx: dispatches to a role. */
public final class Launcher {
    static final String HELP = """
            Usage: qmpx ROLE [options]      (qmpx ROLE --help for a role's options)

            Roles:
              proxy    Share one QEMU QMP monitor among many clients (ids, events, fds, limits).
              broker   Open guest files from a per-guest whitelist and hand out fds (open hook).
              register, unregister, allow, revoke, whitelist, grants, status
                       Administer a running broker (qmpx allow --help).
              snapshot Take an atomic multi-disk snapshot through a running proxy (--broker).
              shell    An interactive QMP shell on a proxy's or QEMU's socket (qmp-shell syntax).
              demo     Start a real QEMU, the proxy and two clients, and show what the proxy does.
              bench    Measure the proxy and the broker on real QEMUs, side by side with direct QMP.

            Environment: JAVA_HOME selects the JDK (25 or later); bin/qmpx finds one otherwise.
            QMPX_CLASSPATH adds jars or directories (lock-manager plug-ins) to the class path.
            """;

    private Launcher() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            System.out.print(HELP);
            return args.length == 0 ? 2 : 0;
        }
        String role = args[0];
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        boolean help = rest.length > 0 && (rest[0].equals("--help") || rest[0].equals("-h"));
        try {
            if (AdminCommands.ROLES.contains(role)) {
                return help ? printed(AdminCommands.HELP) : AdminCommands.run(role, rest);
            }
            return switch (role) {
                case "proxy" -> {
                    if (help) {
                        yield printed(ProxyOptions.HELP);
                    }
                    LogFormat.Chosen log = LogFormat.extract(rest);
                    yield ProxyCommand.run(log.args(), log.format());
                }
                case "broker" -> {
                    if (help) {
                        yield printed(BrokerCommand.HELP + "\n" + LogFormat.OPTION_HELP);
                    }
                    LogFormat.Chosen log = LogFormat.extract(rest);
                    log.format().install(false);
                    yield BrokerCommand.run(log.args());
                }
                case "snapshot" -> help ? printed(SnapshotCommand.HELP) : SnapshotCommand.run(rest);
                case "shell" -> help ? printed(Shell.HELP) : Shell.run(rest);
                case "demo" -> help ? printed(Demo.HELP) : Demo.run(rest);
                default -> throw new UsageException("unknown role '" + role + "'\n\n" + HELP);
            };
        } catch (UsageException e) {
            System.err.println("qmpx " + role + ": " + e.getMessage());
            return 2;
        } catch (IOException e) {
            System.err.println("qmpx " + role + ": " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static int printed(String text) {
        System.out.print(text);
        return 0;
    }
}
