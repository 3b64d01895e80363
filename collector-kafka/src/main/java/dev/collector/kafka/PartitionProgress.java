package dev.collector.kafka;

/**
 * One assigned partition's position, as seen by its current owner (this collector).
 *
 * @param topic the topic
 * @param partition the partition
 * @param epoch the assignment this state belongs to; a new one starts every time the partition is
 *     assigned to this collector
 * @param fetched the offset after the last record handed to a handler, or -1 if none yet
 * @param committed the offset durably committed to the group by this collector in this epoch, or
 *     -1 if it committed none yet
 * @param inFlight units (batches, or records in record mode) dispatched and not yet committed
 * @param running units whose handler is running
 * @param waiting units handled but waiting for an earlier one of the partition (the out-of-order
 *     buffer)
 * @param lag the partition's end offset minus {@code committed} (or minus {@code fetched} before
 *     the first commit), or -1 while unknown
 */
public record PartitionProgress(
    String topic,
    int partition,
    long epoch,
    long fetched,
    long committed,
    int inFlight,
    int running,
    int waiting,
    long lag) {

  @Override
  public String toString() {
    return topic + "-" + partition
        + " fetched=" + fetched
        + " committed=" + committed
        + " inFlight=" + inFlight
        + " running=" + running
        + " waiting=" + waiting
        + " lag=" + lag;
  }
}
