package dev.qmpx.proxy.downstream;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.qmpx.qmp.json.QemuJson;
import dev.qmpx.qmp.message.QmpWire;

import java.util.List;

/**
 * The commands the proxy answers itself, named with QAPI's downstream-extension prefix, and listed
 * in the proxy's answer to query-commands.
 */
public final class ProxyCommands {
    public static final String CLIENTS = "__dev.qmpx_clients";
    static final String JOB_BEGIN = "__dev.qmpx_job-begin";
    static final String JOB_END = "__dev.qmpx_job-end";
    static final String SNAPSHOT = "__dev.qmpx_snapshot";
    /** An admin's way to take a job-begin hold back from another client (see Guest#breakJob). */
    static final String JOB_BREAK = "__dev.qmpx_job-break";
    private static final List<String> ALL = List.of(CLIENTS, JOB_BEGIN, JOB_END, JOB_BREAK, SNAPSHOT);

    private ProxyCommands() {
    }

    public static boolean isOwn(String name) {
        return ALL.contains(name);
    }

    /** query-commands as QEMU answered it, with the proxy's commands added. */
    static final ReplyMapper WITH_OWN_COMMANDS = (reply, proxyId, rawId) -> {
        if (reply.member("return") == null) {
            return QmpWire.replyLine(reply, proxyId, rawId);
        }
        ArrayNode commands = (ArrayNode) reply.asTree().path("return");
        ALL.forEach(name -> commands.addObject().put("name", name));
        return QmpWire.returnLine(rawId, QemuJson.write(commands));
    };
}
