package dev.collector.kafka;

/**
 * Which records of one collector may run at the same time in record mode ({@link
 * KafkaCollector#processRecords}). Whatever the ordering, each partition's committed offset only
 * moves over records whose handlers returned.
 */
public enum Ordering {
  /** Any record may run concurrently with any other, up to {@code concurrency}. */
  UNORDERED,
  /**
   * Records with the same key (within a partition) run one at a time, in offset order; different
   * keys run concurrently. Keys are compared with {@code equals}, byte arrays by content. Records
   * with a {@code null} key count as one key per partition.
   */
  KEY,
  /** One record per partition at a time, in offset order. */
  PARTITION
}
