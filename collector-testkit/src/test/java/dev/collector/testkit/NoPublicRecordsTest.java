package dev.collector.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * ADR 0008: a public record in a published package breaks every caller when a component is added,
 * so {@code dev.collector.testkit} has only the closed record the ADR lists.
 */
class NoPublicRecordsTest {

  /** The records ADR 0008 allows in {@code dev.collector.testkit}; see its "Decisions". */
  private static final Set<String> ALLOWED =
      Set.of("dev.collector.testkit.CollectorLeakCheck$CollectorThread"); // closed: id and name

  @Test
  void dev_collector_testkit_hasOnlyTheAllowedPublicRecords() {
    Set<String> names = new TreeSet<>();
    Set<String> records = new TreeSet<>();
    for (Class<?> type : PublishedRecords.publicTypesOf(Ledger.class)) {
      names.add(type.getName());
      if (type.isRecord()) {
        records.add(type.getName());
      }
    }
    // the scan sees the package, nested public types included
    assertTrue(
        names.containsAll(
            Set.of(
                "dev.collector.testkit.Ledger",
                "dev.collector.testkit.Ledger$Run",
                "dev.collector.testkit.Ledger$FailedAttempt",
                "dev.collector.testkit.CrashHarness",
                "dev.collector.testkit.CollectorLeakCheck$CollectorThread")),
        "scan of dev.collector.testkit found only " + names);
    // the scan recognises a record: CollectorThread is one
    assertTrue(
        records.contains("dev.collector.testkit.CollectorLeakCheck$CollectorThread"),
        "records found: " + records);
    Set<String> unexpected = new TreeSet<>(records);
    unexpected.removeAll(ALLOWED);
    assertEquals(
        Set.of(),
        unexpected,
        "public records in dev.collector.testkit that docs/adr/0008-evolvable-api-types.md does"
            + " not allow; make them final classes, or record the decision in the ADR and in"
            + " ALLOWED");
  }
}
