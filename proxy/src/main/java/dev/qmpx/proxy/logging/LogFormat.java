package dev.qmpx.proxy.logging;

import dev.qmpx.broker.cli.UsageException;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * How the long-running roles (proxy, broker) write their log to stderr: {@code text} lines for
 * people, or {@code json} lines for a log pipeline ({@code --log-format}, accepted by both roles).
 */
public enum LogFormat {
    TEXT, JSON;

    /** The format an argument list asks for and the arguments without {@code --log-format VALUE}. */
    public record Chosen(LogFormat format, String[] args) {
    }

    public static Chosen extract(String[] args) throws UsageException {
        LogFormat format = TEXT;
        List<String> rest = new ArrayList<>(args.length);
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String value = null;
            if (arg.equals("--log-format")) {
                if (i + 1 == args.length) {
                    throw new UsageException("--log-format needs a value: text or json");
                }
                value = args[++i];
            } else if (arg.startsWith("--log-format=")) {
                value = arg.substring("--log-format=".length());
            } else {
                rest.add(arg);
                continue;
            }
            format = switch (value) {
                case "text" -> TEXT;
                case "json" -> JSON;
                default -> throw new UsageException("--log-format: expected text or json, got '" + value + "'");
            };
        }
        return new Chosen(format, rest.toArray(String[]::new));
    }

    /** Sends every qmpx logger to stderr, one line per record; FINE (frames) only when verbose. */
    public void install(boolean verbose) {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler console = new ConsoleHandler();
        console.setFormatter(formatter());
        console.setLevel(Level.ALL);
        root.addHandler(console);
        root.setLevel(Level.INFO);
        Logger.getLogger("dev.qmpx").setLevel(verbose ? Level.FINE : Level.INFO);
    }

    private Formatter formatter() {
        return this == JSON ? new JsonLineFormatter() : new OneLineFormatter();
    }
}
