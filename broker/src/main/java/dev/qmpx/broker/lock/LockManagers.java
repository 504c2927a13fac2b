package dev.qmpx.broker.lock;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/** Loads the configured lock manager by name, or says why it could not: the broker then fails closed. */
public final class LockManagers {
    private LockManagers() {
    }

    /** A loaded lock manager, or the reason there is none. */
    public record Loaded(LockManager manager, String failure) {
    }

    public static Loaded load(String name, LockManagerContext context, ClassLoader loader) {
        List<String> available = new ArrayList<>();
        try {
            for (LockManagerProvider provider : ServiceLoader.load(LockManagerProvider.class, loader)) {
                available.add(provider.name());
                if (provider.name().equals(name)) {
                    try {
                        return new Loaded(provider.create(context), null);
                    } catch (LockManagerRefusal | RuntimeException e) {
                        return new Loaded(null, "lock manager '" + name + "' refused to load: " + e.getMessage());
                    }
                }
            }
        } catch (ServiceConfigurationError e) {
            return new Loaded(null, "lock manager plug-ins could not be loaded: " + e.getMessage());
        }
        return new Loaded(null, "no lock manager plug-in named '" + name + "' (available: " + String.join(", ", available) + ")");
    }
}
