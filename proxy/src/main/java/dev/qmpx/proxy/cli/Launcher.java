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
            NAME
                qmpx - a QMP multiplexing proxy for QEMU, and an open-hook fd broker

            SYNOPSIS
                qmpx ROLE [OPTION]... [ARGUMENT]...
                qmpx ROLE -h | --help
                qmpx [-h | --help | help]

            DESCRIPTION
                Runs one of these roles; qmpx ROLE --help describes it.

                proxy       Share one QEMU QMP monitor among many clients (ids, events,
                            fds, limits).
                broker      Open guest files from a per-guest whitelist and hand out fds
                            (open hook).
                register, unregister, allow, revoke, whitelist, grants, status
                            Administer a running broker (qmpx allow --help).
                snapshot    Take an atomic multi-disk snapshot through a running proxy
                            that has a broker.
                shell       An interactive QMP shell on a proxy's or QEMU's socket
                            (qmp-shell syntax).
                demo        Start a real QEMU, the proxy and two clients, and show what
                            the proxy does.
                bench       Measure the proxy and the broker on real QEMUs, side by side
                            with direct QMP.

                bin/qmpx builds the jars with Maven on first use, and for demo and bench
                installs QEMU from Debian's packages when it is missing (as root).

            OPTIONS
                -h, --help  Show this text (so do help and no argument at all).

            ENVIRONMENT
                JAVA_HOME           The JDK to run on (25 or later); without it, bin/qmpx
                                    takes one under /usr/lib/jvm.
                QMPX_JAVA_OPTIONS   Extra JVM options (heap size, system properties).
                QMPX_CLASSPATH      Jars or directories added to the class path
                                    (lock-manager plug-ins).

            EXIT STATUS
                0   This text was asked for.
                1   bin/qmpx found no JDK 25 or later, no Maven to build the jars, or
                    (demo, bench) no QEMU and could not install it.
                2   No role (this text is shown), or an unknown one.
                Otherwise the role's own exit status (qmpx ROLE --help).

            EXAMPLES
                qmpx demo
                qmpx proxy --help

            SEE ALSO
                README.md in the qmpx checkout; qemu-system-x86_64(1), qemu-img(1).
            """;

    private Launcher() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length == 0 || isHelp(args[0]) || args[0].equals("help")) {
            System.out.print(HELP);
            return args.length == 0 ? 2 : 0;
        }
        String role = args[0];
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        boolean help = rest.length > 0 && isHelp(rest[0]);
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
                        yield printed(BrokerCommand.HELP);
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

    /** Whether a word asks for a help page: every role (bench too) answers these before it parses options. */
    public static boolean isHelp(String word) {
        return word.equals("--help") || word.equals("-h");
    }

    private static int printed(String text) {
        System.out.print(text);
        return 0;
    }
}
