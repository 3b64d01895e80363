package dev.collector.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * ADR 0008: a public record in a published package breaks every caller when a component is added,
 * so {@code dev.collector.kafka} has none (the ADR allows none here).
 */
class NoPublicRecordsTest {

  /** The records ADR 0008 allows in {@code dev.collector.kafka}: none. */
  private static final Set<String> ALLOWED = Set.of();

  @Test
  void dev_collector_kafka_hasNoPublicRecords() {
    Set<String> names = new TreeSet<>();
    Set<String> records = new TreeSet<>();
    for (Class<?> type : PublishedRecords.publicTypesOf(KafkaCollector.class)) {
      names.add(type.getName());
      if (type.isRecord()) {
        records.add(type.getName());
      }
    }
    // the scan sees the package: the entry type, the options, the snapshots and a builder
    assertTrue(
        names.containsAll(
            Set.of(
                "dev.collector.kafka.KafkaCollector",
                "dev.collector.kafka.KafkaCollectorOptions",
                "dev.collector.kafka.KafkaCollectorOptions$Builder",
                "dev.collector.kafka.KafkaProgress",
                "dev.collector.kafka.PartitionProgress")),
        "scan of dev.collector.kafka found only " + names);
    // and it recognises a record: it holds package-private ones, which it must skip
    assertTrue(Window.CommitPoint.class.isRecord());
    assertFalse(names.contains(Window.CommitPoint.class.getName()));
    Set<String> unexpected = new TreeSet<>(records);
    unexpected.removeAll(ALLOWED);
    assertEquals(
        Set.of(),
        unexpected,
        "public records in dev.collector.kafka that docs/adr/0008-evolvable-api-types.md does"
            + " not allow; make them final classes with a builder, or record the decision in the"
            + " ADR and in ALLOWED");
  }
}
