package dev.collector.kafka;

import dev.collector.Batch;
import dev.collector.BatchHandler;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** Adapts the user's batch or record handler to a {@link WorkUnit}. */
interface UnitHandler {

  /** Runs one attempt at the unit. */
  void handle(WorkUnit unit, int attempt) throws Exception;

  /** The unit as the failure policy's dead-letter handler sees it. */
  Batch<ConsumerRecord<?, ?>> batch(WorkUnit unit, int attempt);

  /** The resume token of a unit: where its partition resumes once it is committed. */
  static String resumeToken(WorkUnit unit) {
    return unit.track.partition + "@" + unit.endOffset;
  }

  static Batch<ConsumerRecord<?, ?>> asBatch(WorkUnit unit, int attempt) {
    return Batch.of(unit.firstOffset, unit.records, resumeToken(unit), attempt);
  }

  @SuppressWarnings(
      "unchecked") // the poll loop only puts this collector's ConsumerRecord<K, V> in units
  static <K, V> UnitHandler batches(BatchHandler<ConsumerRecord<K, V>> handler) {
    return new UnitHandler() {
      @Override
      public void handle(WorkUnit unit, int attempt) throws Exception {
        Object batch = asBatch(unit, attempt);
        handler.handle((Batch<ConsumerRecord<K, V>>) batch);
      }

      @Override
      public Batch<ConsumerRecord<?, ?>> batch(WorkUnit unit, int attempt) {
        return asBatch(unit, attempt);
      }
    };
  }

  @SuppressWarnings("unchecked") // as above
  static <K, V> UnitHandler records(RecordHandler<K, V> handler) {
    return new UnitHandler() {
      @Override
      public void handle(WorkUnit unit, int attempt) throws Exception {
        handler.handle((ConsumerRecord<K, V>) unit.records.get(0));
      }

      @Override
      public Batch<ConsumerRecord<?, ?>> batch(WorkUnit unit, int attempt) {
        return asBatch(unit, attempt);
      }
    };
  }
}
