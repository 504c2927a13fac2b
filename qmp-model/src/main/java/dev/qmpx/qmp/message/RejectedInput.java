package dev.qmpx.qmp.message;

/** Input answered with an error and never forwarded: malformed JSON, a non-object, a bad member. */
public record RejectedInput(byte[] rawId, QmpError error) implements ClientInput {
}
