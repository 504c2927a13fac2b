package dev.qmpx.shell;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Builds a command's arguments from {@code key=value} words: dotted keys make nested objects
 * ({@code file.driver=null-co}); a value is JSON when it parses as JSON, else a string.
 */
final class ArgumentTree {
    private ArgumentTree() {
    }

    static ObjectNode of(List<String> words) throws ShellSyntaxException {
        ObjectNode root = ShellJson.MAPPER.createObjectNode();
        // Only objects made by dotted keys may be extended by more dotted keys; one given as a JSON
        // value is whole, and merging into it would hide a key given twice.
        Set<JsonNode> dotted = Collections.newSetFromMap(new IdentityHashMap<>());
        for (String word : words) {
            int equals = word.indexOf('=');
            if (equals < 0) {
                throw new ShellSyntaxException("expected key=value, got '" + word + "'");
            }
            String key = word.substring(0, equals);
            String[] path = key.split("\\.", -1);
            for (String part : path) {
                if (part.isEmpty()) {
                    throw new ShellSyntaxException("bad key '" + key + "' in '" + word + "'");
                }
            }
            ObjectNode parent = root;
            for (int i = 0; i < path.length - 1; i++) {
                JsonNode child = parent.get(path[i]);
                if (child == null) {
                    child = parent.putObject(path[i]);
                    dotted.add(child);
                } else if (!dotted.contains(child)) {
                    throw bothLeafAndObject(String.join(".", List.of(path).subList(0, i + 1)));
                }
                parent = (ObjectNode) child;
            }
            JsonNode existing = parent.get(path[path.length - 1]);
            if (existing != null) {
                throw dotted.contains(existing) ? bothLeafAndObject(key)
                        : new ShellSyntaxException("'" + key + "' is given twice");
            }
            parent.set(path[path.length - 1], value(key, word.substring(equals + 1)));
        }
        return root;
    }

    /**
     * JSON when the text parses (numbers, true, false, null, strings in either quote, arrays,
     * objects), else the text as a string; text that starts like a string, array or object must
     * parse, since the user clearly meant JSON.
     */
    static JsonNode value(String key, String text) throws ShellSyntaxException {
        if (text.isEmpty()) {
            return TextNode.valueOf("");
        }
        try {
            return ShellJson.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            if ("{[\"'".indexOf(text.charAt(0)) >= 0) {
                throw new ShellSyntaxException("bad JSON in the value of '" + key + "': " + e.getOriginalMessage());
            }
            return TextNode.valueOf(text);
        }
    }

    private static ShellSyntaxException bothLeafAndObject(String key) {
        return new ShellSyntaxException("'" + key + "' is given both as a value and as an object");
    }
}
