package dev.qmpx.shell;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Turns the user's lines into QMP commands: {@code command key=value ...}, a raw JSON object, or a
 * transaction ({@code transaction(}, one action a line or actions separated by {@code ;}, then
 * {@code )}). The only state is the transaction being collected. Used by one thread.
 */
final class LineParser {
    static final String PROMPT = "(QEMU) ";
    static final String TRANSACTION_PROMPT = "TRANS> ";

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.+-]*");

    /** The actions of the transaction being collected; null outside one. */
    private ArrayNode actions;

    String prompt() {
        return actions == null ? PROMPT : TRANSACTION_PROMPT;
    }

    boolean inTransaction() {
        return actions != null;
    }

    /** Drops a transaction being collected; true if there was one. */
    boolean dropTransaction() {
        boolean had = actions != null;
        actions = null;
        return had;
    }

    /**
     * The command the line asks for, without an id; empty when there is nothing to send yet (a blank
     * line, or a transaction still being collected).
     */
    Optional<ObjectNode> parse(String line) throws ShellSyntaxException {
        String text = line.strip();
        if (text.isEmpty()) {
            return Optional.empty();
        }
        if (text.startsWith("{")) {
            if (actions != null) {
                throw new ShellSyntaxException("a raw JSON command cannot be a transaction action (end it with ')')");
            }
            return Optional.of(rawObject(text));
        }
        List<String> words = Words.split(text);
        if (actions == null && words.getFirst().equals("transaction(")) {
            actions = ShellJson.MAPPER.createArrayNode();
            try {
                return transactionPart(words.subList(1, words.size()));
            } catch (ShellSyntaxException e) {
                actions = null;
                throw e;
            }
        }
        if (actions != null) {
            return transactionPart(words);
        }
        ObjectNode command = ShellJson.MAPPER.createObjectNode().put("execute", name(words.getFirst()));
        ObjectNode arguments = ArgumentTree.of(words.subList(1, words.size()));
        if (!arguments.isEmpty()) {
            command.set("arguments", arguments);
        }
        return Optional.of(command);
    }

    /**
     * Adds the actions among these words (separated by {@code ;}) and, when they end with {@code )},
     * returns the whole transaction. A bad action drops nothing already collected, so the user can
     * retype just that line.
     */
    private Optional<ObjectNode> transactionPart(List<String> words) throws ShellSyntaxException {
        int close = words.indexOf(")");
        if (close >= 0 && close != words.size() - 1) {
            throw new ShellSyntaxException("unexpected '" + words.get(close + 1) + "' after the ')' that ends the transaction");
        }
        List<ObjectNode> parsed = new ArrayList<>();
        List<String> action = new ArrayList<>();
        for (String word : close >= 0 ? words.subList(0, close) : words) {
            if (word.equals(";")) {
                parsed.add(action(action));
                action.clear();
            } else {
                action.add(word);
            }
        }
        if (!action.isEmpty()) {
            parsed.add(action(action));
        }
        actions.addAll(parsed);
        if (close < 0) {
            return Optional.empty();
        }
        ObjectNode command = ShellJson.MAPPER.createObjectNode().put("execute", "transaction");
        command.putObject("arguments").set("actions", actions);
        actions = null;
        return Optional.of(command);
    }

    private static ObjectNode action(List<String> words) throws ShellSyntaxException {
        if (words.isEmpty()) {
            throw new ShellSyntaxException("an empty transaction action (two ';' in a row?)");
        }
        ObjectNode action = ShellJson.MAPPER.createObjectNode().put("type", name(words.getFirst()));
        action.set("data", ArgumentTree.of(words.subList(1, words.size())));
        return action;
    }

    private static String name(String word) throws ShellSyntaxException {
        if (word.equals(")")) {
            throw new ShellSyntaxException("')' outside a transaction");
        }
        if (!NAME.matcher(word).matches()) {
            throw new ShellSyntaxException("expected a command name first, got '" + word + "'");
        }
        return word;
    }

    private static ObjectNode rawObject(String text) throws ShellSyntaxException {
        JsonNode node;
        try {
            node = ShellJson.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ShellSyntaxException("bad JSON: " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode object)) {
            throw new ShellSyntaxException("a line starting with '{' must be one JSON object");
        }
        return object;
    }
}
