package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * ADR 0008: a public record in a published package breaks every caller when a component is added
 * (its canonical constructor and its deconstruction pattern are API), so only the closed records
 * the ADR lists may be records.
 */
class NoPublicRecordsTest {

  /** The records ADR 0008 allows in {@code dev.collector}; see its "Decisions" section. */
  private static final Set<String> ALLOWED =
      Set.of(
          "dev.collector.Checkpoint", // closed: two components forever
          "dev.collector.SourceBatch"); // closed: records plus a resume token, forever

  @Test
  void onlyTheRecordsTheAdrAllowsArePublicRecords() {
    List<Class<?>> types = PublishedRecords.publicTypesOf(Checkpoint.class);
    Set<String> names = new TreeSet<>();
    Set<String> records = new TreeSet<>();
    for (Class<?> type : types) {
      names.add(type.getName());
      if (type.isRecord()) {
        records.add(type.getName());
      }
    }
    // the scan sees the package: the entry types and a nested builder are there
    assertTrue(
        names.containsAll(
            Set.of(
                "dev.collector.Collector",
                "dev.collector.CollectorOptions",
                "dev.collector.CollectorOptions$Builder",
                "dev.collector.Checkpoint",
                "dev.collector.Batch",
                "dev.collector.Retry",
                "dev.collector.FailurePolicy")),
        "scan of dev.collector found only " + names);
    // the scan recognises a record: Checkpoint is one
    assertTrue(records.contains("dev.collector.Checkpoint"), "records found: " + records);
    Set<String> unexpected = new TreeSet<>(records);
    unexpected.removeAll(ALLOWED);
    assertEquals(
        Set.of(),
        unexpected,
        "public records in dev.collector that docs/adr/0008-evolvable-api-types.md does not"
            + " allow; make them final classes with a builder, or record the decision in the"
            + " ADR and in ALLOWED");
  }
}
