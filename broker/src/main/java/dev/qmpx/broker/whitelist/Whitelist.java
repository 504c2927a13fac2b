package dev.qmpx.broker.whitelist;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One guest's whitelist: a hash table from canonical path to entry (O(1) for exact entries) and a
 * second one for prefix entries, looked up once per ancestor directory. Default deny. Thread-safe:
 * requests read it while the admin changes it; each lookup sees a whole entry or none.
 */
public final class Whitelist {
    private final ConcurrentHashMap<String, Entry> exact = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Entry> prefixes = new ConcurrentHashMap<>();

    public void put(Entry entry) {
        (entry.prefix() ? prefixes : exact).put(entry.path(), entry);
    }

    /** Removes the entry for path (exact or prefix); returns it, or null. */
    public Entry remove(String path) {
        Entry removed = exact.remove(path);
        return removed != null ? removed : prefixes.remove(path);
    }

    /** The entry covering path: its exact entry, else the nearest prefix entry above it; or null. */
    public Entry lookup(String path) {
        Entry entry = exact.get(path);
        if (entry != null) {
            return entry;
        }
        for (String dir = PathRules.parent(path); dir != null; dir = PathRules.parent(dir)) {
            entry = prefixes.get(dir);
            if (entry != null) {
                return entry;
            }
        }
        return null;
    }

    public List<Entry> entries() {
        List<Entry> all = new ArrayList<>(exact.values());
        all.addAll(prefixes.values());
        all.sort(Comparator.comparing(Entry::path));
        return all;
    }
}
