package dev.qmpx.proxy.paths;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.fds.FdsetIds;
import dev.qmpx.proxy.fds.PendingFds;
import dev.qmpx.proxy.routing.Outgoing;
import dev.qmpx.proxy.routing.ReplyHandler;
import dev.qmpx.qmp.catalogue.CommandClass;
import dev.qmpx.qmp.json.JsonMessage;
import dev.qmpx.qmp.message.QmpError;
import dev.qmpx.qmp.message.UpstreamEncoding;

import java.io.FileDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * Turns broker fds into what QEMU is sent: for each file, an add-fd into a fresh fdset (tagged with
 * the client and the real path), then the command with /dev/fdset/N in place of the path. Loop
 * thread only.
 */
public final class PathPreparation {
    private static final Logger LOG = Logger.getLogger(PathPreparation.class.getName());

    private PathPreparation() {
    }

    /**
     * @param arguments the command's arguments, whose references are rewritten in place
     * @return the commands to queue, in order; the last is the client's own
     */
    public static List<Outgoing> outgoings(String command, CommandClass commandClass, ObjectNode arguments,
                                           List<BrokerCalls.Opened> opened, BrokeredFdsets registry, FdsetIds ids,
                                           Object user, BrokeredPaths mapper, ReplyHandler clientReply) {
        List<Outgoing> out = new ArrayList<>();
        for (BrokerCalls.Opened file : opened) {
            long fdset = registry.allocate(ids, file.reference().path(), user);
            mapper.add(fdset, file.reference());
            ObjectNode addFd = JsonNodeFactory.instance.objectNode().put("fdset-id", fdset)
                    .put("opaque", BrokeredFdsets.tag(file.reference().path()));
            out.add(Outgoing.prelude("add-fd", UpstreamEncoding.prefix("add-fd", addFd), file.fd(), new ReplyHandler() {
                        @Override
                        public void onReply(JsonMessage reply, JsonMessage.Member proxyId) {
                            if (reply.member("error") != null) {
                                LOG.warning("add-fd of " + file.reference().path() + " failed: "
                                        + new String(reply.text(), java.nio.charset.StandardCharsets.UTF_8));
                            }
                        }

                        @Override
                        public void onAbandoned(QmpError reason) {
                            LOG.info("add-fd of " + file.reference().path() + " not answered: " + reason.desc());
                        }
                    }));
            file.reference().holder().put(file.reference().member(), "/dev/fdset/" + fdset);
        }
        out.add(new Outgoing(command, commandClass, UpstreamEncoding.prefix(command, arguments), clientReply));
        return out;
    }

    /** Closes what the broker handed out, and deletes what it created, when the command will not go ahead. */
    public static void discard(List<BrokerCalls.Opened> opened, BrokerCalls broker, String guest) {
        opened.forEach(file -> PendingFds.close(file.fd()));
        List<String> created = opened.stream().filter(file -> file.fd() != null
                && file.reference().access() == FileReference.Access.CREATE).map(file -> file.reference().path()).toList();
        if (!created.isEmpty()) {
            broker.unlink(created, guest);
        }
    }
}
