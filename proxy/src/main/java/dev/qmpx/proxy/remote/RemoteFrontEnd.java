package dev.qmpx.proxy.remote;

import dev.qmpx.broker.cli.UsageException;
import dev.qmpx.proxy.routing.Guest;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The network front end of {@code qmpx proxy} (the gateway module): its clients become sessions of
 * the guests through {@link dev.qmpx.proxy.downstream.ClientTransport}, as unix clients do. The
 * proxy module cannot depend on the module that implements it, so it is found with
 * {@link ServiceLoader}.
 */
public interface RemoteFrontEnd {
    /**
     * Binds the listeners and serves the guests (their loops may not have started yet: tasks posted
     * to them wait). Called once, from main.
     *
     * @return closes the listeners and the connections; any thread, at exit
     */
    Closeable start(RemoteOptions options, List<Guest> guests) throws IOException;

    /** The implementation on the class path; bin/qmpx puts gateway/target there. */
    static RemoteFrontEnd load() throws UsageException {
        return ServiceLoader.load(RemoteFrontEnd.class).findFirst().orElseThrow(() -> new UsageException(
                "the network front end (the gateway module: gateway/target/gateway-*.jar and gateway/target/lib) "
                        + "is not on the class path; build it with mvn install"));
    }
}
