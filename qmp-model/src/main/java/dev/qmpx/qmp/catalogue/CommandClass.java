package dev.qmpx.qmp.catalogue;

/** How the proxy treats a command (issue 5): queries never wait; the rest take the guest's job. */
public enum CommandClass {
    /** Reads state only: never waits for the job. */
    QUERY,
    /** Changes state: one at a time per guest, under the job. */
    MODIFY,
    /** Starts a QEMU job whose completion comes by event: under the job, with a longer reply timeout. */
    JOB
}
