package dev.qmpx.qmp.message;

/** QMP's error classes (qapi/error.json, QapiErrorClass). */
public enum ErrorClass {
    GenericError, CommandNotFound, DeviceNotActive, DeviceNotFound, KVMMissingCap
}
