package dev.qmpx.proxy.filenames;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The class of issue 15's attack, as generated input: many spellings of a file name in every form
 * QEMU reads alike. The client owns set 3 (upstream 42); set 0 is another client's. The seed is
 * printed and can be fixed with -Dqmpx.spellings.seed=N to replay a failure.
 */
class GeneratedSpellingsTest {
    private static final int SPELLINGS = 20_000;
    private static final Map<Long, Long> OWN = Map.of(3L, 42L);

    private static long seed() {
        long seed = Long.getLong("qmpx.spellings.seed", System.nanoTime());
        System.out.println("GeneratedSpellingsTest seed " + seed);
        return seed;
    }

    @Test
    void noSpellingOfAnotherClientsSetGetsThrough() {
        long seed = seed();
        FileNameSpellings spellings = new FileNameSpellings(seed);
        for (boolean trusted : new boolean[] {false, true}) {
            FdsetNames names = new FdsetNames(OWN::get, trusted);
            for (int i = 0; i < SPELLINGS; i++) {
                String spelling = spellings.spell("/dev/fdset/" + (i % 3 == 0 ? "00" : "0"));
                try {
                    String upstream = names.rewrite(spelling);
                    fail("seed " + seed + ": passed " + (upstream == null ? "unchanged" : "as " + upstream) + ": " + spelling);
                } catch (QemuFileName.Refused expected) {
                    // refused, as it must be
                }
            }
        }
    }

    @Test
    void mutatedSpellingsOfAnotherClientsSetNeverBecomeOneOfTheClientsOwn() throws Exception {
        long seed = seed();
        FileNameSpellings spellings = new FileNameSpellings(seed);
        FdsetNames names = new FdsetNames(OWN::get, false);
        for (int i = 0; i < SPELLINGS; i++) {
            String spelling = spellings.mutate(spellings.spell("/dev/fdset/0"));
            String upstream;
            try {
                upstream = names.rewrite(spelling);
            } catch (QemuFileName.Refused refused) {
                continue;
            }
            // What passes names no set at all as the model reads it; the end-to-end sample checks QEMU agrees.
            assertEquals(List.of(), FdsetNames.clientSets(upstream == null ? spelling : upstream), "seed " + seed + ": " + spelling);
        }
    }

    @Test
    void everySpellingOfTheClientsOwnSetIsMappedToItsUpstreamSet() throws Exception {
        long seed = seed();
        FileNameSpellings spellings = new FileNameSpellings(seed);
        // As admin: other roles may not use json: names at all.
        FdsetNames names = new FdsetNames(OWN::get, true);
        for (int i = 0; i < SPELLINGS; i++) {
            String spelling = spellings.spell("/dev/fdset/3");
            String upstream = names.rewrite(spelling);
            assertNotNull(upstream, "seed " + seed + ": " + spelling);
            List<String> named = new ArrayList<>();
            QemuFileName.rewrite(upstream, name -> {
                named.add(name.replaceFirst("^(file|host_device|host_cdrom):", ""));
                return null;
            }, true);
            assertEquals(List.of("/dev/fdset/42"), named.stream().filter(n -> n.contains("fdset")).toList(),
                    "seed " + seed + ": " + spelling + " became " + upstream);
        }
    }
}
