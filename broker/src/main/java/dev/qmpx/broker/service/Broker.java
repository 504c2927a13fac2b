package dev.qmpx.broker.service;

import dev.qmpx.broker.audit.AuditLog;
import dev.qmpx.broker.lock.LockConflictException;
import dev.qmpx.broker.lock.LockManager;
import dev.qmpx.broker.lock.LockManagerContext;
import dev.qmpx.broker.lock.LockManagers;
import dev.qmpx.broker.open.OpenFailure;
import dev.qmpx.broker.open.Opener;
import dev.qmpx.broker.state.BrokerState;
import dev.qmpx.broker.state.StateStore;
import dev.qmpx.broker.whitelist.Entry;
import dev.qmpx.broker.whitelist.PathRules;
import dev.qmpx.broker.whitelist.Right;
import dev.qmpx.broker.whitelist.Whitelist;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * The broker's decisions: which guest may open what, the leases behind grants, and the state that
 * survives a restart. Thread-safe: opens run concurrently on every guest's connection threads and
 * only read the registry and whitelists (concurrent maps); registration changes, lease changes and
 * state writes are serialised on this object's lock.
 */
public final class Broker implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Broker.class.getName());
    private static final Pattern GUEST_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final int RECENT_GRANTS = 1000;

    /** A registered guest. */
    public record Guest(String name, Integer uid, Whitelist whitelist) {
    }

    /** A grant, as listed by the admin command "grants". */
    public record Grant(String time, String guest, String path, String access, boolean create, long pid, long uid) {
    }

    private final StateStore store;
    private final AuditLog audit;
    private final LockManager locks;
    private final String lockFailure;
    private final ConcurrentHashMap<String, Guest> guests = new ConcurrentHashMap<>();
    /** guest -> path -> exclusive; guarded by this. */
    private final Map<String, Map<String, Boolean>> leases = new TreeMap<>();
    /** Guarded by itself. */
    private final ArrayDeque<Grant> recentGrants = new ArrayDeque<>();
    /** One lock per guest and path ever requested; small objects, bounded by the whitelists' reach. */
    private final ConcurrentHashMap<String, Object> pathLocks = new ConcurrentHashMap<>();
    /**
     * How long after creating a file a guest may still remove it with unlink: long enough to undo an
     * operation interrupted by crashes and restarts, short enough that an image which has since
     * become part of a disk's chain cannot be deleted through the hook socket.
     */
    static final long UNDO_WINDOW_MILLIS = 3_600_000;

    /** A file a guest created: its inode (unlink verifies it) and when. */
    private record Created(long inode, long createdMillis) {
    }

    /** Files each guest created through this broker, kept in the state: what unlink may remove. */
    private final ConcurrentHashMap<String, Map<String, Created>> created = new ConcurrentHashMap<>();

    private Broker(StateStore store, AuditLog audit, LockManagers.Loaded loaded) {
        this.store = store;
        this.audit = audit;
        this.locks = loaded.manager();
        this.lockFailure = loaded.failure();
    }

    /**
     * Loads the state (refusing a corrupt file), loads the lock manager (remembering why it could
     * not be), and re-takes the saved leases, all before any request can be served.
     */
    public static Broker open(BrokerConfig config, AuditLog audit, ClassLoader plugins) throws IOException {
        StateStore store = new StateStore(config.stateDir());
        BrokerState state = store.load();
        LockManagers.Loaded loaded = LockManagers.load(config.lockManager(),
                new LockManagerContext(LockManager.API_VERSION, config.lockspace()), plugins);
        Broker broker = new Broker(store, audit, loaded);
        if (loaded.failure() != null) {
            LOG.severe("failing closed, no open will be served: " + loaded.failure());
        }
        for (BrokerState.GuestState g : state.guests()) {
            Whitelist whitelist = new Whitelist();
            for (BrokerState.EntryState e : g.entries()) {
                Set<Right> rights = EnumSet.noneOf(Right.class);
                e.rights().forEach(r -> rights.add(Right.valueOf(r)));
                whitelist.put(new Entry(e.path(), e.prefix(), rights, e.specialFiles()));
            }
            broker.guests.put(g.name(), new Guest(g.name(), g.uid(), whitelist));
        }
        for (BrokerState.LeaseState lease : state.leases()) {
            if (broker.locks == null) {
                continue;
            }
            try {
                broker.locks.acquire(lease.guest(), lease.path(), lease.exclusive());
                // Recorded only once held: a lease that could not be re-taken must be asked for again.
                broker.leases.computeIfAbsent(lease.guest(), k -> new TreeMap<>()).put(lease.path(), lease.exclusive());
            } catch (LockConflictException | RuntimeException e) {
                LOG.severe("could not re-take " + lease.guest() + "'s lease on " + lease.path() + ": " + e.getMessage()
                        + "; the next request for it must take it again");
            }
        }
        for (BrokerState.CreatedState made : state.created()) {
            broker.created.computeIfAbsent(made.guest(), g -> new ConcurrentHashMap<>())
                    .put(made.path(), new Created(made.inode(), made.createdMillis()));
        }
        LOG.info("state loaded from " + store.file() + ": " + broker.guests.size() + " guest(s), "
                + state.leases().size() + " lease(s)");
        return broker;
    }

    public String lockFailure() {
        return lockFailure;
    }

    public Guest guest(String name) {
        return guests.get(name);
    }

    public List<Guest> guests() {
        return List.copyOf(guests.values());
    }

    // --- opens (any thread) ---

    public OpenResult open(String guestName, AuditLog.Peer peer, OpenRequest request) {
        OpenResult result = decide(guestName, peer, request);
        try {
            switch (result) {
                case OpenResult.Granted granted -> {
                    audit.grant(guestName, request.path(), request.access(), request.create(), peer);
                    remember(new Grant(java.time.Instant.now().toString(), guestName, request.path(), request.access(),
                            request.create(), peer.pid(), peer.uid()));
                }
                case OpenResult.Denied denied -> audit.deny(guestName, request.path(), request.access(), request.create(),
                        peer, denied.errorClass(), denied.desc());
            }
        } catch (RuntimeException e) {
            // No grant without its audit line: the fd is closed and the request refused.
            LOG.severe("cannot write the audit log, refusing: " + e.getMessage());
            if (result instanceof OpenResult.Granted granted) {
                dev.qmpx.broker.open.Posix.close(granted.fd());
            }
            return new OpenResult.Denied("PermissionDenied", "the broker cannot write its audit log");
        }
        return result;
    }

    /**
     * Removes a file the guest created through this broker (to undo a failed operation): only such
     * a file, only while the entry still allows creating it, only if it is still the same inode.
     */
    public OpenResult unlink(String guestName, AuditLog.Peer peer, String path) {
        OpenResult result = decideUnlink(guestName, peer, path);
        switch (result) {
            case OpenResult.Granted granted -> audit.grant(guestName, path, "unlink", false, peer);
            case OpenResult.Denied denied -> audit.deny(guestName, path, "unlink", false, peer, denied.errorClass(), denied.desc());
        }
        return result;
    }

    private OpenResult decideUnlink(String guestName, AuditLog.Peer peer, String path) {
        Guest guest = guests.get(guestName);
        if (guest == null) {
            return denied("PermissionDenied", "guest " + guestName + " is not registered");
        }
        if (guest.uid() != null && guest.uid() != peer.uid()) {
            return denied("PermissionDenied", "uid " + peer.uid() + " is not served on " + guestName + "'s socket");
        }
        String problem = PathRules.problem(path);
        if (problem != null) {
            return denied("InvalidRequest", problem);
        }
        Entry entry = guest.whitelist().lookup(path);
        if (entry == null || !entry.rights().contains(Right.CREATE)) {
            return denied("PermissionDenied", path + " may not be created, so not removed, by " + guestName);
        }
        Created made = created.getOrDefault(guestName, Map.of()).get(path);
        if (made == null) {
            return denied("PermissionDenied", path + " was not created by " + guestName + " through this broker");
        }
        if (System.currentTimeMillis() - made.createdMillis() > UNDO_WINDOW_MILLIS) {
            return denied("PermissionDenied", path + " was created more than " + UNDO_WINDOW_MILLIS / 60_000
                    + " minutes ago; it is no longer an undo");
        }
        try {
            Opener.unlink(path, made.inode());
        } catch (OpenFailure e) {
            return denied(e.errorClass(), e.getMessage());
        }
        forgetCreated(guestName, path);
        dropLease(guestName, path);
        return new OpenResult.Granted(-1);
    }

    /** Audits a request that could not even be parsed. */
    public void denyMalformed(String guestName, AuditLog.Peer peer, String reason) {
        audit.deny(guestName, null, null, false, peer, "InvalidRequest", reason);
    }

    private OpenResult decide(String guestName, AuditLog.Peer peer, OpenRequest request) {
        Guest guest = guests.get(guestName);
        if (guest == null) {
            return denied("PermissionDenied", "guest " + guestName + " is not registered");
        }
        if (guest.uid() != null && guest.uid() != peer.uid()) {
            return denied("PermissionDenied", "uid " + peer.uid() + " is not served on " + guestName
                    + "'s socket (bound to uid " + guest.uid() + ")");
        }
        if (locks == null) {
            return denied("PermissionDenied", "the broker is failing closed: " + lockFailure);
        }
        String problem = PathRules.problem(request.path());
        if (problem != null) {
            return denied("InvalidRequest", problem);
        }
        Entry entry = guest.whitelist().lookup(request.path());
        if (entry == null) {
            return denied("PermissionDenied", request.path() + " is not in " + guestName + "'s whitelist");
        }
        if (request.write() && !entry.rights().contains(Right.WRITE)) {
            return denied("PermissionDenied", "the whitelist allows " + entry.describeRights() + " on " + entry.path());
        }
        if (request.create() && !entry.rights().contains(Right.CREATE)) {
            return denied("PermissionDenied", "the whitelist does not allow creating " + request.path());
        }
        // Lease, open and (on failure) lease release happen as one step per guest and path, so two
        // requests cannot see each other's half-made lease (a lease must back every write grant).
        synchronized (pathLock(guestName, request.path())) {
            boolean newLease;
            try {
                newLease = takeLease(guestName, request.path(), request.write());
            } catch (LockConflictException e) {
                return denied("LockConflict", e.getMessage());
            } catch (RuntimeException | LinkageError e) {
                return denied("PermissionDenied", "the lock manager failed: " + e);
            }
            int fd;
            try {
                fd = Opener.open(request.path(), request.write(), request.create(), entry.specialFiles());
                if (request.create()) {
                    recordCreated(guestName, request.path(), Opener.inode(fd));
                }
            } catch (OpenFailure e) {
                if (newLease) {
                    dropLease(guestName, request.path());
                }
                return denied(e.errorClass(), e.getMessage());
            }
            // An admin change made while this request was underway wins: no grant after a revoke.
            if (guests.get(guestName) != guest || guest.whitelist().lookup(request.path()) != entry) {
                dev.qmpx.broker.open.Posix.close(fd);
                if (newLease) {
                    dropLease(guestName, request.path());
                }
                return denied("PermissionDenied", request.path() + "'s whitelist entry changed while it was being opened");
            }
            return new OpenResult.Granted(fd);
        }
    }

    private Object pathLock(String guest, String path) {
        return pathLocks.computeIfAbsent(guest + "\0" + path, k -> new Object());
    }

    private static OpenResult.Denied denied(String errorClass, String desc) {
        return new OpenResult.Denied(errorClass, desc);
    }

    /** @return true when the guest had no lease on path before */
    private synchronized boolean takeLease(String guest, String path, boolean exclusive) throws LockConflictException {
        if (locks instanceof dev.qmpx.broker.lock.NoLocking) {
            return false; // no leases to keep, none to persist
        }
        Map<String, Boolean> held = leases.computeIfAbsent(guest, k -> new TreeMap<>());
        Boolean current = held.get(path);
        if (current != null && (current || !exclusive)) {
            return false;
        }
        locks.acquire(guest, path, exclusive);
        held.put(path, exclusive);
        persist();
        return current == null;
    }

    private synchronized void recordCreated(String guest, String path, long inode) {
        created.computeIfAbsent(guest, g -> new ConcurrentHashMap<>()).put(path, new Created(inode, System.currentTimeMillis()));
        persist();
    }

    private synchronized void forgetCreated(String guest, String path) {
        created.getOrDefault(guest, Map.of()).remove(path);
        persist();
    }

    private synchronized void dropLease(String guest, String path) {
        Map<String, Boolean> held = leases.get(guest);
        if (held != null && held.remove(path) != null) {
            locks.release(guest, path);
            persist();
        }
    }

    private void remember(Grant grant) {
        synchronized (recentGrants) {
            if (recentGrants.size() == RECENT_GRANTS) {
                recentGrants.poll();
            }
            recentGrants.add(grant);
        }
    }

    public List<Grant> grants(String guest) {
        synchronized (recentGrants) {
            return recentGrants.stream().filter(g -> guest == null || g.guest().equals(guest)).toList();
        }
    }

    // --- administration (admin connection threads) ---

    public static void checkGuestName(String name) throws AdminException {
        if (!GUEST_NAME.matcher(name).matches()) {
            throw new AdminException("InvalidRequest", "guest names are 1-64 characters of A-Z a-z 0-9 _ . - "
                    + "(and start with a letter or digit): " + name);
        }
    }

    public synchronized Guest register(String name, Integer uid) throws AdminException {
        checkGuestName(name);
        Guest existing = guests.get(name);
        Guest guest = new Guest(name, uid, existing == null ? new Whitelist() : existing.whitelist());
        guests.put(name, guest);
        persist();
        return guest;
    }

    public synchronized void unregister(String name) throws AdminException {
        requireGuest(name);
        guests.remove(name);
        created.remove(name);
        Map<String, Boolean> held = leases.remove(name);
        if (held != null && locks != null) {
            held.keySet().forEach(path -> locks.release(name, path));
        }
        persist();
    }

    public synchronized void allow(String name, Entry entry) throws AdminException {
        requireGuest(name).whitelist().put(entry);
        persist();
    }

    /** Removes the entry and releases the guest's leases it covered; fds already handed out stay. */
    public synchronized Entry revoke(String name, String path) throws AdminException {
        Entry removed = requireGuest(name).whitelist().remove(path);
        if (removed == null) {
            throw new AdminException("NotFound", path + " is not in " + name + "'s whitelist");
        }
        Map<String, Boolean> held = leases.get(name);
        if (held != null) {
            for (String leased : List.copyOf(held.keySet())) {
                if (leased.equals(path) || (removed.prefix() && leased.startsWith(path + "/"))) {
                    held.remove(leased);
                    if (locks != null) {
                        locks.release(name, leased);
                    }
                }
            }
        }
        persist();
        return removed;
    }

    public synchronized Map<String, Boolean> leases(String guest) {
        return Map.copyOf(leases.getOrDefault(guest, Map.of()));
    }

    private Guest requireGuest(String name) throws AdminException {
        Guest guest = guests.get(name);
        if (guest == null) {
            throw new AdminException("NotFound", "guest " + name + " is not registered");
        }
        return guest;
    }

    /** Writes the state; called with this object's lock held. */
    private void persist() {
        List<BrokerState.GuestState> savedGuests = new ArrayList<>();
        for (Guest g : guests.values()) {
            List<BrokerState.EntryState> entries = new ArrayList<>();
            for (Entry e : g.whitelist().entries()) {
                entries.add(new BrokerState.EntryState(e.path(), e.prefix(),
                        e.rights().stream().map(Enum::name).sorted().toList(), e.specialFiles()));
            }
            savedGuests.add(new BrokerState.GuestState(g.name(), g.uid(), entries));
        }
        List<BrokerState.LeaseState> savedLeases = new ArrayList<>();
        leases.forEach((guest, held) -> held.forEach((path, exclusive) ->
                savedLeases.add(new BrokerState.LeaseState(guest, path, exclusive))));
        List<BrokerState.CreatedState> savedCreated = new ArrayList<>();
        long oldest = System.currentTimeMillis() - UNDO_WINDOW_MILLIS;
        created.forEach((guest, files) -> {
            files.values().removeIf(made -> made.createdMillis() < oldest);
            files.forEach((path, made) -> savedCreated.add(new BrokerState.CreatedState(guest, path, made.inode(),
                    made.createdMillis())));
        });
        try {
            store.save(new BrokerState(BrokerState.VERSION, savedGuests, savedLeases, savedCreated));
        } catch (IOException e) {
            // The change is in memory and in force; say loudly that it will not survive a restart.
            LOG.severe("could not save the broker state to " + store.file() + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        if (locks != null) {
            locks.close();
        }
    }
}
