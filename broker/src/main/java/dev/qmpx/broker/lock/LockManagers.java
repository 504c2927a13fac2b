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
        List<String> broken = new ArrayList<>();
        var providers = ServiceLoader.load(LockManagerProvider.class, loader).iterator();
        while (true) {
            LockManagerProvider provider;
            String providerName;
            try {
                if (!providers.hasNext()) {
                    break;
                }
                provider = providers.next();
                providerName = provider.name();
            } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
                // One broken plug-in must not hide the others.
                broken.add(e.toString());
                continue;
            }
            available.add(providerName);
            if (providerName.equals(name)) {
                try {
                    return new Loaded(provider.create(context), null);
                } catch (LockManagerRefusal | RuntimeException | LinkageError e) {
                    return new Loaded(null, "lock manager '" + name + "' refused to load: " + e.getMessage());
                }
            }
        }
        return new Loaded(null, "no lock manager plug-in named '" + name + "' (available: " + String.join(", ", available)
                + (broken.isEmpty() ? "" : "; broken: " + String.join("; ", broken)) + ")");
    }
}
