package dev.qmpx.qmp.message;

/** One unit of client input: a command to run, or input QEMU would reject before dispatch. */
public sealed interface ClientInput permits ClientCommand, RejectedInput {
    /** The client's id exactly as it sent it, or null when it sent none (or sent no object). */
    byte[] rawId();
}
