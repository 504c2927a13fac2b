package dev.qmpx.proxy.orchestration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qmpx.proxy.routing.Guest;
import dev.qmpx.proxy.routing.NotSentException;

import java.io.FileDescriptor;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/** An orchestration's commands to QEMU, waited for on the orchestration's own thread. */
final class QmpSteps {
    private static final Logger LOG = Logger.getLogger(QmpSteps.class.getName());
    static final long STEP_SECONDS = 120;

    private final Guest guest;

    QmpSteps(Guest guest) {
        this.guest = guest;
    }

    /** A step failed; its message says which and why. */
    static class StepFailed extends Exception {
        StepFailed(String message) {
            super(message, null, false, false);
        }
    }

    /** A command was sent and no answer came (QEMU went away, or too slow): whether it ran is unknown. */
    static final class Unanswered extends StepFailed {
        Unanswered(String message) {
            super(message);
        }
    }

    JsonNode call(String name, ObjectNode arguments) throws StepFailed {
        return call(name, arguments, null);
    }

    /** Sends a command (with an fd if not null) and returns its "return" value, or fails the step. */
    JsonNode call(String name, ObjectNode arguments, FileDescriptor fd) throws StepFailed {
        JsonNode reply = join(guest.call(name, arguments, fd), name);
        if (reply.has("error")) {
            throw new StepFailed(name + ": " + reply.path("error").path("desc").asText());
        }
        return reply.path("return");
    }

    /** An undo command: a failure is logged, and the undo goes on. */
    void quietly(String name, ObjectNode arguments) {
        try {
            call(name, arguments);
        } catch (StepFailed e) {
            LOG.warning(guest.config().name() + ": undo " + name + " " + arguments + ": " + e.getMessage());
        }
    }

    static <T> T join(CompletableFuture<T> future, String what) throws StepFailed {
        try {
            return future.get(STEP_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unanswered(what + ": interrupted");
        } catch (ExecutionException e) {
            String message = what + ": " + e.getCause().getMessage();
            throw e.getCause() instanceof NotSentException ? new StepFailed(message) : new Unanswered(message);
        } catch (TimeoutException e) {
            throw new Unanswered(what + ": no answer within " + STEP_SECONDS + " s");
        }
    }
}
