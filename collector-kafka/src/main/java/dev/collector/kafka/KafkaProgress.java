package dev.collector.kafka;

import java.util.List;

/**
 * A snapshot of a Kafka collector: the global bound and each assigned partition.
 *
 * @param uncommitted units (batches, or records in record mode) fetched but not yet committed over
 *     all partitions, including handlers of revoked partitions still running; at most {@code
 *     capacity}
 * @param capacity the active run's {@code depth}, 0 when no run is active
 * @param running handlers running
 * @param handled units handled (acknowledged or dead-lettered) in the active run
 * @param committed units committed in the active run
 * @param fenced completions that arrived for a revoked or lost partition and were ignored
 * @param partitions the assigned partitions, ordered by topic and partition
 */
public record KafkaProgress(
    int uncommitted,
    int capacity,
    int running,
    long handled,
    long committed,
    long fenced,
    List<PartitionProgress> partitions) {

  /** Copies the list. */
  public KafkaProgress {
    partitions = List.copyOf(partitions);
  }

  @Override
  public String toString() {
    return "uncommitted=" + uncommitted + "/" + capacity
        + " running=" + running
        + " handled=" + handled
        + " committed=" + committed
        + (fenced > 0 ? " fenced=" + fenced : "")
        + " partitions=" + partitions;
  }
}
