package dev.qmpx.qmp.catalogue;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The command class comes from the explicit table, never from how a name looks. */
class CommandCatalogueTest {
    @Test
    void listedQueriesAreQueriesAndAnUnknownQueryNameIsAModifyCommand() {
        assertEquals(CommandClass.QUERY, CommandCatalogue.classify("query-status"));
        assertEquals(CommandClass.QUERY, CommandCatalogue.classify("qom-get"));
        assertEquals(CommandClass.MODIFY, CommandCatalogue.classify("query-foo"), "a query- prefix alone proves nothing");
        assertEquals(CommandClass.MODIFY, CommandCatalogue.classify("x-query-foo"));
        assertEquals(CommandClass.MODIFY, CommandCatalogue.classify("stop"));
        assertEquals(CommandClass.JOB, CommandCatalogue.classify("drive-mirror"));
    }
}
