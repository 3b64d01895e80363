package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * ADR 0008: a public record in a published package breaks every caller when a component is added,
 * so {@code dev.collector.core} has none (the ADR allows none here).
 */
class NoPublicRecordsTest {

  /** The records ADR 0008 allows in {@code dev.collector.core}: none. */
  private static final Set<String> ALLOWED = Set.of();

  @Test
  void dev_collector_core_hasNoPublicRecords() {
    Set<String> names = new TreeSet<>();
    Set<String> records = new TreeSet<>();
    for (Class<?> type : PublishedRecords.publicTypesOf(Collecting.class)) {
      names.add(type.getName());
      if (type.isRecord()) {
        records.add(type.getName());
      }
    }
    // the scan sees the package: the entry point, the line-source options and their builder
    assertTrue(
        names.containsAll(
            Set.of(
                "dev.collector.core.Collecting",
                "dev.collector.core.LineSourceOptions",
                "dev.collector.core.LineSourceOptions$Builder")),
        "scan of dev.collector.core found only " + names);
    // it skips the package's non-public records
    assertTrue(Lifecycle.Failure.class.isRecord());
    assertFalse(names.contains(Lifecycle.Failure.class.getName()));
    Set<String> unexpected = new TreeSet<>(records);
    unexpected.removeAll(ALLOWED);
    assertEquals(
        Set.of(),
        unexpected,
        "public records in dev.collector.core that docs/adr/0008-evolvable-api-types.md does"
            + " not allow; make them final classes with a builder, or record the decision in the"
            + " ADR and in ALLOWED");
  }
}
