package dev.qmpx.proxy.logging;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/**
 * One JSON object per log record, for log pipelines ({@code --log-format json}): the fields of the
 * text format as members, the stack trace of an error in {@code error}, never a line break inside.
 */
final class JsonLineFormatter extends Formatter {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Override
    public String format(LogRecord r) {
        ObjectNode line = MAPPER.createObjectNode()
                .put("time", Instant.ofEpochMilli(r.getMillis()).toString())
                .put("level", OneLineFormatter.label(r.getLevel()).strip())
                .put("logger", r.getLoggerName())
                .put("thread", Thread.currentThread().getName())
                .put("message", formatMessage(r));
        if (r.getThrown() != null) {
            StringWriter trace = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(trace));
            line.put("error", trace.toString());
        }
        try {
            return MAPPER.writeValueAsString(line) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always serialises", e);
        }
    }
}
