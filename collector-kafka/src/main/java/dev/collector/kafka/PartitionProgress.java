package dev.collector.kafka;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One assigned partition's position, as seen by its current owner (this collector).
 *
 * <p>Users read it ({@link KafkaProgress#partitions()}). {@link #builder()} is for collector
 * implementations and tests. A final class rather than a record, so that a figure can be added in a
 * minor release without breaking callers: see {@code docs/adr/0008-evolvable-api-types.md}.
 * Immutable; {@link #equals} compares every figure.
 */
public final class PartitionProgress {

  private final String topic;
  private final int partition;
  private final long epoch;
  private final long fetched;
  private final long committed;
  private final int inFlight;
  private final int running;
  private final int waiting;
  private final long lag;

  private PartitionProgress(Builder b) {
    this.topic = Objects.requireNonNull(b.topic, "topic");
    this.partition = b.partition;
    this.epoch = b.epoch;
    this.fetched = b.fetched;
    this.committed = b.committed;
    this.inFlight = b.inFlight;
    this.running = b.running;
    this.waiting = b.waiting;
    this.lag = b.lag;
  }

  /**
   * A builder with an empty topic, partition 0, epoch 0, the offsets and the lag -1 and the counts
   * zero, for collector implementations and tests; users read progress, they do not build it.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The topic.
   *
   * @return the topic
   */
  public String topic() {
    return topic;
  }

  /**
   * The partition.
   *
   * @return the partition number
   */
  public int partition() {
    return partition;
  }

  /**
   * The assignment this state belongs to; a new one starts every time the partition is assigned to
   * this collector.
   *
   * @return the assignment epoch
   */
  public long epoch() {
    return epoch;
  }

  /**
   * The offset after the last record handed to a handler, or -1 if none yet.
   *
   * @return the fetched offset
   */
  public long fetched() {
    return fetched;
  }

  /**
   * The offset durably committed to the group by this collector in this epoch, or -1 if it
   * committed none yet.
   *
   * @return the committed offset
   */
  public long committed() {
    return committed;
  }

  /**
   * Units (batches, or records in record mode) dispatched and not yet committed.
   *
   * @return units in flight
   */
  public int inFlight() {
    return inFlight;
  }

  /**
   * Units whose handler is running.
   *
   * @return units running
   */
  public int running() {
    return running;
  }

  /**
   * Units handled but waiting for an earlier one of the partition (the out-of-order buffer).
   *
   * @return units waiting
   */
  public int waiting() {
    return waiting;
  }

  /**
   * The partition's end offset minus {@link #committed()}, or -1 while unknown. Before the epoch's
   * first commit the committed offset is where the epoch started, so records fetched and not yet
   * committed count as lag.
   *
   * @return the lag, or -1
   */
  public long lag() {
    return lag;
  }

  /**
   * Equal if every figure is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code PartitionProgress} with the same figures
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof PartitionProgress other
        && topic.equals(other.topic)
        && partition == other.partition
        && epoch == other.epoch
        && fetched == other.fetched
        && committed == other.committed
        && inFlight == other.inFlight
        && running == other.running
        && waiting == other.waiting
        && lag == other.lag;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        topic, partition, epoch, fetched, committed, inFlight, running, waiting, lag);
  }

  /**
   * One line for logs, e.g. {@code orders-3 fetched=120 committed=96 inFlight=3 running=2 waiting=1
   * lag=40}.
   */
  @Override
  public String toString() {
    return topic
        + "-"
        + partition
        + " fetched="
        + fetched
        + " committed="
        + committed
        + " inFlight="
        + inFlight
        + " running="
        + running
        + " waiting="
        + waiting
        + " lag="
        + lag;
  }

  /**
   * Builds {@link PartitionProgress}, for collector implementations and tests; validation happens
   * in {@link #build()}. One setter per figure, named like its accessor. Not thread-safe.
   */
  public static final class Builder {
    private String topic = "";
    private int partition;
    private long epoch;
    private long fetched = -1;
    private long committed = -1;
    private int inFlight;
    private int running;
    private int waiting;
    private long lag = -1;

    private Builder() {}

    /**
     * Sets {@link PartitionProgress#topic()}.
     *
     * @param topic the topic
     * @return this builder
     */
    public Builder topic(String topic) {
      this.topic = topic;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#partition()}.
     *
     * @param partition the partition number
     * @return this builder
     */
    public Builder partition(int partition) {
      this.partition = partition;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#epoch()}.
     *
     * @param epoch the assignment epoch
     * @return this builder
     */
    public Builder epoch(long epoch) {
      this.epoch = epoch;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#fetched()}.
     *
     * @param fetched the fetched offset
     * @return this builder
     */
    public Builder fetched(long fetched) {
      this.fetched = fetched;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#committed()}.
     *
     * @param committed the committed offset
     * @return this builder
     */
    public Builder committed(long committed) {
      this.committed = committed;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#inFlight()}.
     *
     * @param inFlight units in flight
     * @return this builder
     */
    public Builder inFlight(int inFlight) {
      this.inFlight = inFlight;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#running()}.
     *
     * @param running units running
     * @return this builder
     */
    public Builder running(int running) {
      this.running = running;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#waiting()}.
     *
     * @param waiting units waiting
     * @return this builder
     */
    public Builder waiting(int waiting) {
      this.waiting = waiting;
      return this;
    }

    /**
     * Sets {@link PartitionProgress#lag()}.
     *
     * @param lag the lag, or -1
     * @return this builder
     */
    public Builder lag(long lag) {
      this.lag = lag;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the snapshot
     */
    public PartitionProgress build() {
      return new PartitionProgress(this);
    }
  }
}
