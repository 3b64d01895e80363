package dev.collector.kafka;

import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The work {@link KafkaCollector#processRecords} runs for each record, on a virtual thread.
 * Returning acknowledges the record; throwing hands it to the failure policy. A handler must answer
 * an interrupt (the run was cancelled, or its partition was revoked and the drain bound passed) by
 * ending soon.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
@FunctionalInterface
public interface RecordHandler<K, V> {

  /**
   * Handles one record.
   *
   * @param record the record
   * @throws Exception to fail the record
   */
  void handle(ConsumerRecord<K, V> record) throws Exception;
}
