package dev.qmpx.shell;

import java.io.IOException;

/**
 * The user's side of the shell: where lines come from and where replies, events and complaints go.
 * {@link #readLine} is called by the main thread only; {@link #show} and {@link #complain} from any
 * thread, each text whole (never interleaved with another).
 */
interface ShellConsole extends AutoCloseable {
    /**
     * The next line the user gives, null at the end of input.
     *
     * @throws java.util.concurrent.CancellationException when the user cancels the line (Ctrl-C) or the
     *     thread is interrupted (how the reading thread wakes it when the connection is gone)
     */
    String readLine(String prompt);

    /** A reply, an event or the greeting. */
    void show(String text);

    /** The shell's own messages: bad lines, a lost connection. */
    void complain(String text);

    @Override
    void close() throws IOException;
}
