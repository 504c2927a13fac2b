package dev.qmpx.shell;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Shows what the reading thread finds on the console, as it arrives. When the connection goes it
 * interrupts the main thread, which may be waiting for a line of input; the main thread says why
 * (saying it here could race with the main thread's exit).
 */
final class SessionDisplay implements QmpSession.Listener {
    private final ShellConsole console;
    private final MessageView view;
    private final Thread mainThread;

    SessionDisplay(ShellConsole console, MessageView view, Thread mainThread) {
        this.console = console;
        this.view = view;
        this.mainThread = mainThread;
    }

    @Override
    public void event(String line, JsonNode event) {
        console.show(view.event(line, event));
    }

    @Override
    public void reply(String line, JsonNode reply) {
        console.show(view.reply(line, reply));
    }

    @Override
    public void unparsable(String line) {
        console.complain("not JSON, ignored: " + line);
    }

    @Override
    public void lost() {
        if (Thread.currentThread() != mainThread) {
            mainThread.interrupt();
        }
    }
}
