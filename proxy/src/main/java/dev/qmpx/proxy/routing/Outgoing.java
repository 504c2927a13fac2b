package dev.qmpx.proxy.routing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.fds.PendingFds;
import dev.qmpx.qmp.catalogue.CommandClass;

import java.io.FileDescriptor;

/**
 * A command on its way to QEMU, or a job request the proxy answers itself in its turn.
 *
 * @param name the command name, for logs, timeouts and the audit
 * @param commandClass query, modify or job (what the job rules and reply timeouts go by)
 * @param kind upstream command, or a local job-begin/job-end that takes its place in the client's order
 * @param prefix the encoded command up to its closing brace (see UpstreamEncoding); empty for local kinds
 * @param fds descriptors to pass in the same sendmsg, or an empty array
 * @param arguments a local request's arguments (a snapshot's targets); null otherwise
 * @param prelude a command the proxy generated to prepare the client command that follows it (the
 *     add-fd of a broker fd): it stands or falls with that command
 * @param guard a probe to send first (an argument rule that needs QEMU's answer), or null
 */
public record Outgoing(String name, CommandClass commandClass, Kind kind, byte[] prefix, FileDescriptor[] fds,
                       ReplyHandler handler, ObjectNode arguments, boolean prelude, Guard guard) {
    private static final FileDescriptor[] NONE = new FileDescriptor[0];

    /** What the dispatcher does with it: send it, or run one of the proxy's own job requests. */
    public enum Kind { UPSTREAM, JOB_BEGIN, JOB_END, SNAPSHOT }

    /**
     * A command QEMU must answer first, with nothing sent in between (so nothing can change what it
     * looked at): its return decides whether the guarded command goes.
     *
     * @param prefix the probe, encoded as {@link #prefix}
     * @param refusal the error to answer instead of the command, from the probe's return value; null to send it
     */
    public record Guard(String name, byte[] prefix, java.util.function.Function<com.fasterxml.jackson.databind.JsonNode,
            dev.qmpx.qmp.message.QmpError> refusal) {
    }

    public Outgoing(String name, CommandClass commandClass, byte[] prefix, FileDescriptor[] fds, ReplyHandler handler) {
        this(name, commandClass, Kind.UPSTREAM, prefix, fds, handler, null, false, null);
    }

    public Outgoing(String name, CommandClass commandClass, byte[] prefix, ReplyHandler handler) {
        this(name, commandClass, Kind.UPSTREAM, prefix, NONE, handler, null, false, null);
    }

    /** A client command that goes only if the guard's probe allows it. */
    public static Outgoing guarded(String name, CommandClass commandClass, byte[] prefix, ReplyHandler handler, Guard guard) {
        return new Outgoing(name, commandClass, Kind.UPSTREAM, prefix, NONE, handler, null, false, guard);
    }

    /** The command itself, once its guard allowed it. */
    Outgoing withoutGuard() {
        return new Outgoing(name, commandClass, kind, prefix, fds, handler, arguments, prelude, null);
    }

    /** The proxy's add-fd of a broker fd, ahead of the client command it prepares. */
    public static Outgoing prelude(String name, byte[] prefix, FileDescriptor fd, ReplyHandler handler) {
        return new Outgoing(name, CommandClass.MODIFY, Kind.UPSTREAM, prefix, new FileDescriptor[] {fd}, handler, null, true, null);
    }

    /** A request the proxy answers itself in the client's turn, with its arguments. */
    public static Outgoing local(String name, Kind kind, ObjectNode arguments, ReplyHandler handler) {
        return new Outgoing(name, CommandClass.MODIFY, kind, new byte[0], NONE, handler, arguments, false, null);
    }

    public boolean carriesFds() {
        return fds.length > 0;
    }

    /** Whether it may run only while its client holds the guest's job (or the job is free). */
    public boolean needsJob() {
        return kind == Kind.JOB_BEGIN || kind == Kind.SNAPSHOT || (kind == Kind.UPSTREAM && commandClass != CommandClass.QUERY);
    }

    /** Closes the proxy's copies of the fds: once sent (QEMU holds its own), or when dropped. */
    public void closeFds() {
        for (FileDescriptor fd : fds) {
            PendingFds.close(fd);
        }
    }
}
