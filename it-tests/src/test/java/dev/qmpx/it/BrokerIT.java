package dev.qmpx.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qmpx.broker.client.OpenHookClient;
import dev.qmpx.broker.wire.JsonSocketServer;
import org.junit.jupiter.api.Test;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real broker process, real files, real sockets: grants, denials, races, state, leases, audit. */
class BrokerIT {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    /** Runs as another uid too (a python under /root would not be executable for it). */
    private static final String SYSTEM_PYTHON = "/usr/bin/python3";

    @Test
    void grantAndDenyMatrix() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Path img = Files.createDirectories(dir.resolve("img"));
            Path ro = write(img.resolve("ro.raw"), "read-only image");
            Path rw = write(img.resolve("rw.raw"), "writable image");
            Path overlays = Files.createDirectories(img.resolve("overlays"));
            Path existing = write(overlays.resolve("existing.qcow2"), "already here");
            Path unlisted = write(img.resolve("unlisted.raw"), "secret");
            register(broker, "vm1");
            broker.allow("vm1", ro, "r", false, false, false);
            broker.allow("vm1", rw, "rw", false, false, false);
            broker.allow("vm1", overlays, "rw", true, true, false);
            broker.allow("vm1", img.resolve("missing.raw"), "r", false, false, false);
            try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                assertEquals("read-only image", read(hook.open(ro.toString(), false, false)));
                assertDenied("PermissionDenied", () -> hook.open(ro.toString(), true, false));
                FileDescriptor writable = hook.open(rw.toString(), true, false);
                try (FileOutputStream out = new FileOutputStream(writable)) {
                    out.write("X".getBytes(StandardCharsets.US_ASCII));
                }
                assertEquals("Xritable image", Files.readString(rw));
                assertDenied("PermissionDenied", () -> hook.open(unlisted.toString(), false, false));
                assertDenied("NotFound", () -> hook.open(img.resolve("missing.raw").toString(), false, false));
                Path created = overlays.resolve("new.qcow2");
                read(hook.open(created.toString(), true, true));
                assertTrue(Files.exists(created));
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(created)));
                assertDenied("PermissionDenied", () -> hook.open(existing.toString(), true, true));
                assertEquals("already here", Files.readString(existing), "create never truncates");
                assertDenied("PermissionDenied", () -> hook.open(img.resolve("other.raw").toString(), true, true));
                assertDenied("PermissionDenied", () -> hook.open(rw.toString() + ".new", true, true));
                for (String bad : List.of("", "relative/path", img + "/../img/ro.raw", img + "//ro.raw", img + "/./ro.raw", ro + "/")) {
                    assertDenied("InvalidRequest", () -> hook.open(bad, false, false));
                }
            }
            String audit = broker.audit();
            assertEquals(3, count(audit, "\"result\":\"grant\""), audit);
            assertEquals(12, count(audit, "\"result\":\"deny\""), audit);
            assertTrue(audit.contains("\"guest\":\"vm1\",\"path\":\"" + unlisted + "\",\"access\":\"r\",\"create\":false,\"pid\":"
                    + ProcessHandle.current().pid() + ",\"uid\":0,\"gid\":0,\"result\":\"deny\",\"class\":\"PermissionDenied\""), audit);
        }
    }

    @Test
    void symlinksAreNeverFollowedOutOfTheWhitelist() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Path secret = write(dir.resolve("secret"), "secret");
            Path img = Files.createDirectories(dir.resolve("img"));
            Path link = Files.createSymbolicLink(img.resolve("link.raw"), secret);
            Path linkedDir = Files.createSymbolicLink(img.resolve("linked"), dir.path);
            register(broker, "vm1");
            broker.allow("vm1", link, "r", false, false, false);
            broker.allow("vm1", linkedDir, "r", false, true, false);
            try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                assertDenied("PermissionDenied", () -> hook.open(link.toString(), false, false));
                assertDenied("PermissionDenied", () -> hook.open(linkedDir.resolve("secret").toString(), false, false));
            }
            assertEquals(2, count(broker.audit(), "a component is a symlink"));
        }
    }

    @Test
    void aSymlinkSwappedBetweenRequestsNeverEscapes() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Path secret = write(dir.resolve("secret"), "secret");
            Path img = Files.createDirectories(dir.resolve("img"));
            Path target = write(img.resolve("disk.raw"), "safe");
            Path safeCopy = write(img.resolve("safe.tmp"), "safe");
            Path linkCopy = img.resolve("link.tmp");
            register(broker, "vm1");
            broker.allow("vm1", target, "r", false, false, false);
            AtomicBoolean stop = new AtomicBoolean();
            // Atomically replaces disk.raw by a regular file or by a symlink to the secret, over and over.
            Thread flipper = Thread.ofPlatform().start(() -> {
                try {
                    for (long i = 0; !stop.get(); i++) {
                        if (i % 2 == 0) {
                            Files.deleteIfExists(linkCopy);
                            Files.createSymbolicLink(linkCopy, secret);
                            Files.move(linkCopy, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                        } else {
                            Files.copy(safeCopy, linkCopy, StandardCopyOption.REPLACE_EXISTING);
                            Files.move(linkCopy, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });
            int grants = 0;
            int denials = 0;
            try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                for (int i = 0; i < 3000; i++) {
                    try {
                        assertEquals("safe", read(hook.open(target.toString(), false, false)), "request " + i + " escaped");
                        grants++;
                    } catch (OpenHookClient.Denied denied) {
                        denials++;
                    }
                }
            } finally {
                stop.set(true);
                flipper.join();
            }
            assertTrue(grants > 0 && denials > 0, "both outcomes raced: " + grants + " grants, " + denials + " denials");
        }
    }

    @Test
    void fifosAndDeviceNodesOnlyWhereAnEntryAllowsThem() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Path fifo = dir.resolve("fifo");
            assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
            register(broker, "plain");
            register(broker, "special");
            for (Path p : List.of(fifo, Path.of("/dev/null"))) {
                broker.allow("plain", p, "r", false, false, false);
                broker.allow("special", p, "r", false, false, true);
            }
            try (OpenHookClient plain = OpenHookClient.connect(broker.hook("plain"));
                 OpenHookClient special = OpenHookClient.connect(broker.hook("special"))) {
                assertDenied("PermissionDenied", () -> plain.open(fifo.toString(), false, false));
                assertDenied("PermissionDenied", () -> plain.open("/dev/null", false, false));
                // Granted without blocking the broker, though the FIFO has no writer.
                new FileInputStream(special.open(fifo.toString(), false, false)).close();
                assertEquals("", read(special.open("/dev/null", false, false)));
            }
            assertEquals(2, count(broker.audit(), "not a regular file"));
        }
    }

    @Test
    void whitelistChangesTakeEffectOnTheNextRequest() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Path image = write(dir.resolve("a.raw"), "a");
            register(broker, "vm1");
            try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                assertDenied("PermissionDenied", () -> hook.open(image.toString(), false, false));
                broker.allow("vm1", image, "r", false, false, false);
                assertEquals("a", read(hook.open(image.toString(), false, false)));
                assertEquals("r", broker.admin("revoke", "guest", "vm1", "path", image.toString()).path("return").path("access").asText());
                assertDenied("PermissionDenied", () -> hook.open(image.toString(), false, false));
                broker.allow("vm1", image, "rw", false, false, false);
                read(hook.open(image.toString(), true, false));
                assertEquals("NotFound", broker.admin("revoke", "guest", "vm1", "path", "/nope").path("error").path("class").asText());
                assertTrue(broker.admin("unregister", "guest", "vm1").has("return"));
                assertDenied("PermissionDenied", () -> hook.open(image.toString(), false, false));
            }
            assertFalse(Files.exists(broker.hook("vm1")), "an unregistered guest's socket is gone");
        }
    }

    @Test
    void aRestartKeepsTheWhitelistAndFdsAlreadyHandedOut() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Path image = write(dir.resolve("a.raw"), "kept");
            FileDescriptor handedOut;
            try (BrokerProcess broker = BrokerProcess.start(dir.path)) {
                register(broker, "vm1");
                broker.allow("vm1", image, "rw", false, false, false);
                try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                    handedOut = hook.open(image.toString(), false, false);
                }
                broker.kill();
            }
            assertEquals("kept", read(handedOut), "an fd handed out outlives the broker");
            try (BrokerProcess again = BrokerProcess.start(dir.path);
                 OpenHookClient hook = OpenHookClient.connect(again.hook("vm1"))) {
                assertEquals("kept", read(hook.open(image.toString(), true, false)));
                JsonNode whitelist = again.admin("whitelist", "guest", "vm1").path("return");
                assertEquals(image.toString(), whitelist.path("entries").get(0).path("path").asText());
                assertEquals("rw", whitelist.path("entries").get(0).path("access").asText());
            }
        }
    }

    @Test
    void aCorruptStateFileIsRefusedLoudlyAndNeverHalfLoaded() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            try (BrokerProcess broker = BrokerProcess.start(dir.path)) {
                register(broker, "vm1");
            }
            Path stateFile = dir.resolve("state/broker-state.json");
            String good = Files.readString(stateFile);
            for (String corrupt : List.of(good.replace("vm1", "vm2"), good.substring(0, good.length() / 2), "{}\n")) {
                Files.writeString(stateFile, corrupt);
                try (BrokerProcess broker = BrokerProcess.start(dir.path)) {
                    assertTrue(broker.process.waitFor(20, TimeUnit.SECONDS), "the broker stops");
                    assertEquals(1, broker.process.exitValue());
                    assertTrue(broker.log().contains("state file " + stateFile + " is"), broker.log());
                    assertTrue(broker.log().contains("not loading it"), broker.log());
                    assertFalse(broker.log().contains("broker serving"));
                }
            }
        }
    }

    @Test
    void fcntlLeasesConflictBetweenGuestsAndSurviveARestart() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Path image = write(dir.resolve("shared.raw"), "x");
            Path base = write(dir.resolve("base.raw"), "y");
            try (BrokerProcess broker = BrokerProcess.start(dir.path, "--lock-manager", "fcntl")) {
                for (String vm : List.of("vm1", "vm2")) {
                    register(broker, vm);
                    broker.allow(vm, image, "rw", false, false, false);
                    broker.allow(vm, base, "rw", false, false, false);
                }
                try (OpenHookClient vm1 = OpenHookClient.connect(broker.hook("vm1"));
                     OpenHookClient vm2 = OpenHookClient.connect(broker.hook("vm2"))) {
                    read(vm1.open(image.toString(), true, false));
                    assertDenied("LockConflict", () -> vm2.open(image.toString(), false, false));
                    assertDenied("LockConflict", () -> vm2.open(image.toString(), true, false));
                    read(vm1.open(image.toString(), false, false));
                    // Shared leases coexist; a writer then conflicts with the other reader.
                    read(vm1.open(base.toString(), false, false));
                    read(vm2.open(base.toString(), false, false));
                    assertDenied("LockConflict", () -> vm1.open(base.toString(), true, false));
                    // Revoking vm1's entry releases its lease.
                    broker.admin("revoke", "guest", "vm1", "path", image.toString());
                    read(vm2.open(image.toString(), true, false));
                }
                broker.kill();
            }
            try (BrokerProcess broker = BrokerProcess.start(dir.path, "--lock-manager", "fcntl");
                 OpenHookClient vm1 = OpenHookClient.connect(broker.hook("vm1"))) {
                broker.allow("vm1", image, "rw", false, false, false);
                assertDenied("LockConflict", () -> vm1.open(image.toString(), false, false));
                assertEquals("exclusive", broker.admin("whitelist", "guest", "vm2").path("return").path("leases")
                        .path(image.toString()).asText());
            }
        }
    }

    @Test
    void aLockManagerThatCannotLoadMakesEveryOpenFailClosed() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Path image = write(dir.resolve("a.raw"), "a");
            for (String[] manager : List.of(new String[] {"refusing", "lock manager 'refusing' refused to load: built for lock-manager API 99"},
                    new String[] {"nosuch", "no lock manager plug-in named 'nosuch'"})) {
                try (BrokerProcess broker = BrokerProcess.start(dir.path, "--lock-manager", manager[0])) {
                    register(broker, "vm1");
                    broker.allow("vm1", image, "r", false, false, false);
                    assertFalse(broker.admin("status").path("return").path("serving").asBoolean());
                    try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                        OpenHookClient.Denied denied = assertThrows(OpenHookClient.Denied.class,
                                () -> hook.open(image.toString(), false, false));
                        assertEquals("PermissionDenied", denied.errorClass());
                        assertTrue(denied.getMessage().contains(manager[1]), denied.getMessage());
                    }
                    assertTrue(broker.audit().contains("failing closed"));
                }
            }
        }
    }

    @Test
    void aGuestBoundToAUidServesOnlyThatUidAndPythonGetsTheFdWithRecvFds() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Files.setPosixFilePermissions(dir.path, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(broker.hooks, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path image = write(dir.resolve("a.raw"), "for nobody");
            Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-------"));
            assertTrue(broker.admin("register", "guest", "vm1").has("return"));
            assertTrue(AdminCall.register(broker, "vm1", 65534).has("return"));
            broker.allow("vm1", image, "r", false, false, false);
            assertEquals(65534, ((Number) Files.getAttribute(broker.hook("vm1"), "unix:uid")).intValue());
            try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                OpenHookClient.Denied denied = assertThrows(OpenHookClient.Denied.class, () -> hook.open(image.toString(), false, false));
                assertTrue(denied.getMessage().contains("uid 0 is not served on vm1's socket (bound to uid 65534)"), denied.getMessage());
            }
            // A language-neutral client, running as the bound uid, which cannot read the file itself.
            String script = """
                    import json, os, socket, sys
                    try:
                        open(sys.argv[2]).read(); print("direct read worked")
                    except PermissionError:
                        print("direct read refused")
                    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                    s.sendall(json.dumps({"open": sys.argv[2], "access": "r", "id": "py"}).encode() + b"\\n")
                    msg, fds, flags, addr = socket.recv_fds(s, 4096, 1)
                    print(msg.decode().strip())
                    print(os.read(fds[0], 100).decode())
                    """;
            Process python = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    SYSTEM_PYTHON, "-c", script, broker.hook("vm1").toString(), image.toString()).redirectErrorStream(true).start();
            String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, python.waitFor(), out);
            assertEquals(List.of("direct read refused", "{\"id\": \"py\", \"return\": {}}", "for nobody"), out.lines().toList());
        }
    }

    @Test
    void theAdminSocketServesRootAndTheBrokersUidOnly() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Files.setPosixFilePermissions(dir.path, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(broker.admin, PosixFilePermissions.fromString("rw-rw-rw-"));
            String script = """
                    import socket, sys
                    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                    s.sendall(b'{"op": "register", "guest": "evil"}\\n')
                    print(s.makefile().readline().strip())
                    """;
            Process python = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    SYSTEM_PYTHON, "-c", script, broker.admin.toString()).redirectErrorStream(true).start();
            String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, python.waitFor(), out);
            assertTrue(out.contains("\"class\":\"PermissionDenied\""), out);
            assertTrue(broker.admin("status").path("return").path("guests").isEmpty());
        }
    }

    @Test
    void racingCreateAndOpenRequestsNeverLeaveAWriteGrantWithoutALease() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path, "--lock-manager", "fcntl")) {
            Path image = write(dir.resolve("shared.raw"), "x");
            for (String vm : List.of("vmA", "vmB")) {
                register(broker, vm);
                broker.allow(vm, dir.path, "rw", true, true, false);
            }
            try (OpenHookClient creator = OpenHookClient.connect(broker.hook("vmA"));
                 OpenHookClient opener = OpenHookClient.connect(broker.hook("vmA"));
                 OpenHookClient other = OpenHookClient.connect(broker.hook("vmB"))) {
                for (int round = 0; round < 150; round++) {
                    // A create of an existing file fails (and drops its new lease) while a plain open succeeds.
                    Thread racer = Thread.ofPlatform().start(() -> assertThrows(OpenHookClient.Denied.class,
                            () -> creator.open(image.toString(), true, true)));
                    FileDescriptor granted = opener.open(image.toString(), true, false);
                    racer.join();
                    // vmA holds a writable fd: its exclusive lease must still be there.
                    assertDenied("LockConflict", () -> other.open(image.toString(), false, false));
                    new FileInputStream(granted).close();
                }
            }
        }
    }

    @Test
    void aLeaseThatCannotBeRetakenAtStartMustBeAskedForAgain() throws Exception {
        try (WorkDir dir = new WorkDir()) {
            Path image = write(dir.resolve("a.raw"), "a");
            try (BrokerProcess broker = BrokerProcess.start(dir.path, "--lock-manager", "fcntl")) {
                register(broker, "vm1");
                broker.allow("vm1", image, "rw", false, false, false);
                try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                    read(hook.open(image.toString(), true, false));
                }
                broker.kill();
            }
            // While the broker is down, another holder (as another broker on shared storage) locks the image.
            String digest = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(image.toString().getBytes(StandardCharsets.UTF_8)));
            Path lockFile = dir.resolve("state/lockspace/" + digest);
            Process holder = new ProcessBuilder(SYSTEM_PYTHON, "-c", "import fcntl, sys, time\n"
                    + "f = open(sys.argv[1], 'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                    lockFile.toString()).start();
            try {
                assertEquals("held", new String(holder.getInputStream().readNBytes(4), StandardCharsets.US_ASCII));
                try (BrokerProcess broker = BrokerProcess.start(dir.path, "--lock-manager", "fcntl");
                     OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                    assertTrue(broker.log().contains("could not re-take vm1's lease"), broker.log());
                    assertDenied("LockConflict", () -> hook.open(image.toString(), true, false));
                }
            } finally {
                holder.destroyForcibly();
            }
        }
    }

    @Test
    void anUnwritableAuditLogRefusesOpensAndLeaksNoFd() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path, "--audit", "/dev/full")) {
            Path image = write(dir.resolve("a.raw"), "a");
            register(broker, "vm1");
            broker.allow("vm1", image, "r", false, false, false);
            try (OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"))) {
                assertDenied("PermissionDenied", () -> hook.open(image.toString(), false, false));
                long before = fdCount(broker.process.pid());
                for (int i = 0; i < 20; i++) {
                    OpenHookClient.Denied denied = assertThrows(OpenHookClient.Denied.class, () -> hook.open(image.toString(), false, false));
                    assertTrue(denied.getMessage().contains("cannot write its audit log"), denied.getMessage());
                }
                assertEquals(before, fdCount(broker.process.pid()));
            }
        }
    }

    @Test
    void aGuestWhoseSocketCannotExistIsRefusedAndNeverSaved() throws Exception {
        try (WorkDir work = new WorkDir()) {
            // Deep enough that a 64-character guest name makes the socket path 108 bytes or more.
            Path dir = Files.createDirectories(work.resolve("a-directory-deep-enough-for-long-socket-paths"));
            try (BrokerProcess broker = BrokerProcess.start(dir)) {
                String name = "g".repeat(64);
                JsonNode reply = broker.admin("register", "guest", name);
                assertEquals("InvalidRequest", reply.path("error").path("class").asText(), reply.toString());
                JsonNode bad = dev.qmpx.broker.client.AdminClient.call(broker.admin,
                        dev.qmpx.broker.client.AdminClient.request("register").put("guest", "vm2").put("uid", "qemu"));
                assertEquals("InvalidRequest", bad.path("error").path("class").asText(), bad.toString());
            }
            try (BrokerProcess again = BrokerProcess.start(dir)) {
                assertTrue(again.log().contains("broker serving"), again.log());
                assertTrue(again.admin("status").path("return").path("guests").isEmpty());
            }
        }
    }

    private static long fdCount(long pid) throws IOException {
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.count();
        }
    }

    // --- helpers ---

    /** Admin calls with a non-string argument. */
    private static final class AdminCall {
        static JsonNode register(BrokerProcess broker, String guest, int uid) throws IOException {
            return dev.qmpx.broker.client.AdminClient.call(broker.admin,
                    dev.qmpx.broker.client.AdminClient.request("register").put("guest", guest).put("uid", uid));
        }
    }

    @Test
    void connectionsPastTheCapAreClosedAtOnceAndServedAgainOnceOneEnds() throws Exception {
        try (WorkDir dir = new WorkDir(); BrokerProcess broker = BrokerProcess.start(dir.path)) {
            Path image = write(Files.createDirectories(dir.resolve("img")).resolve("disk.raw"), "image");
            register(broker, "vm1");
            broker.allow("vm1", image, "r", false, false, false);
            List<OpenHookClient> held = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < JsonSocketServer.MAX_CONNECTIONS; i++) {
                    OpenHookClient hook = OpenHookClient.connect(broker.hook("vm1"));
                    held.add(hook);
                    // A grant proves the broker serves this connection, not just that the kernel queued it.
                    assertEquals("image", read(hook.open(image.toString(), false, false)));
                }
                try (OpenHookClient extra = OpenHookClient.connect(broker.hook("vm1"))) {
                    IOException refused = assertThrows(IOException.class, () -> extra.open(image.toString(), false, false));
                    assertFalse(refused instanceof OpenHookClient.Denied, "closed, not answered: " + refused);
                }
                held.remove(0).close();
                Await.until("a connection served again once one ended", TIMEOUT, () -> {
                    try (OpenHookClient again = OpenHookClient.connect(broker.hook("vm1"))) {
                        return "image".equals(read(again.open(image.toString(), false, false)));
                    } catch (IOException refusedStill) {
                        return false;
                    }
                });
                assertTrue(broker.log().contains("connections are open, the most one socket serves"), broker.log());
                assertTrue(broker.process.isAlive());
            } finally {
                for (OpenHookClient hook : held) {
                    hook.close();
                }
            }
        }
    }

    private static void register(BrokerProcess broker, String guest) throws IOException {
        JsonNode reply = broker.admin("register", "guest", guest);
        assertEquals(broker.hook(guest).toString(), reply.path("return").path("socket").asText(), reply.toString());
    }

    private interface Open {
        FileDescriptor run() throws IOException;
    }

    private static void assertDenied(String errorClass, Open open) {
        OpenHookClient.Denied denied = assertThrows(OpenHookClient.Denied.class, open::run);
        assertEquals(errorClass, denied.errorClass(), denied.getMessage());
    }

    private static Path write(Path path, String content) throws IOException {
        Files.writeString(path, content);
        return path;
    }

    private static String read(FileDescriptor fd) throws IOException {
        try (FileInputStream in = new FileInputStream(fd)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static int count(String text, String part) {
        return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }
}
