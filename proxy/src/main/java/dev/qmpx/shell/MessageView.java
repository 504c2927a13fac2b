package dev.qmpx.shell;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * How the shell shows what the server sends: QEMU's lines unchanged with {@code --raw}, otherwise a
 * version line for the greeting, a reply's return value as pretty JSON, an error as
 * {@code error: CLASS: DESC}, an event as {@code [TIME] event NAME DATA} (local time, microseconds).
 */
final class MessageView {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS");

    private final boolean raw;
    private final ZoneId zone;

    MessageView(boolean raw, ZoneId zone) {
        this.raw = raw;
        this.zone = zone;
    }

    String greeting(String line, JsonNode greeting, Path socket) {
        if (raw) {
            return line;
        }
        JsonNode version = greeting.path("QMP").path("version");
        JsonNode qemu = version.path("qemu");
        String text = "Connected to QEMU " + qemu.path("major").asText("?") + "." + qemu.path("minor").asText("?")
                + "." + qemu.path("micro").asText("?");
        String build = version.path("package").asText("");
        return text + (build.isBlank() ? "" : " (" + build.strip() + ")") + " at " + socket;
    }

    String reply(String line, JsonNode reply) {
        if (raw) {
            return line;
        }
        if (reply.has("return")) {
            return ShellJson.pretty(reply.get("return"));
        }
        JsonNode error = reply.path("error");
        if (error.isObject()) {
            return "error: " + error.path("class").asText("?") + ": " + error.path("desc").asText("");
        }
        return ShellJson.pretty(reply);
    }

    String event(String line, JsonNode event) {
        if (raw) {
            return line;
        }
        JsonNode timestamp = event.path("timestamp");
        String time = timestamp.has("seconds")
                ? TIME.format(Instant.ofEpochSecond(timestamp.path("seconds").asLong(),
                        timestamp.path("microseconds").asLong() * 1000).atZone(zone))
                : "no timestamp";
        JsonNode data = event.get("data");
        return "[" + time + "] event " + event.path("event").asText() + (data == null ? "" : " " + ShellJson.pretty(data));
    }
}
