package dev.qmpx.proxy.downstream;

/**
 * How a client session reaches its peer. Unix sockets implement it here; a network front end can
 * implement it too. All methods run on the guest's loop thread.
 */
public interface ClientTransport {
    /** Queues a complete line for the client; a client over its output bound is disconnected. */
    void send(byte[] line);

    /** Stops or resumes reading the client's input (back-pressure). */
    void setReading(boolean reading);

    /** Closes the connection; the session is told through {@link ClientSession#closed}. */
    void close(String reason);

    /** Who the peer is: credentials and listener (for logs, the policy and the audit). */
    Peer peer();

    /** Whether the peer can pass file descriptors (SCM_RIGHTS); getfd and add-fd are refused otherwise. */
    default boolean carriesFds() {
        return true;
    }
}
