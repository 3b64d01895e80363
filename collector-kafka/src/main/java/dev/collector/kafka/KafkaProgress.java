package dev.collector.kafka;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of a Kafka collector: the global bound and each assigned partition.
 *
 * <p>Users read it ({@link KafkaCollector#progress()}). {@link #builder()} is for collector
 * implementations and tests. A final class rather than a record, so that a figure can be added in a
 * minor release without breaking callers: see {@code docs/adr/0008-evolvable-api-types.md}.
 * Immutable; {@link #equals} compares every figure.
 */
public final class KafkaProgress {

  private final int uncommitted;
  private final int capacity;
  private final int running;
  private final long handled;
  private final long committed;
  private final long fenced;
  private final List<PartitionProgress> partitions;

  private KafkaProgress(Builder b) {
    this.uncommitted = b.uncommitted;
    this.capacity = b.capacity;
    this.running = b.running;
    this.handled = b.handled;
    this.committed = b.committed;
    this.fenced = b.fenced;
    this.partitions = List.copyOf(b.partitions);
  }

  /**
   * A builder with every figure zero and no partitions, for collector implementations and tests;
   * users read progress, they do not build it.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Units (batches, or records in record mode) fetched but not yet committed over all partitions,
   * including handlers of revoked partitions still running; at most {@link #capacity()}.
   *
   * @return units uncommitted
   */
  public int uncommitted() {
    return uncommitted;
  }

  /**
   * The active run's {@code depth}, 0 when no run is active.
   *
   * @return the capacity
   */
  public int capacity() {
    return capacity;
  }

  /**
   * Handlers running.
   *
   * @return handlers running
   */
  public int running() {
    return running;
  }

  /**
   * Units handled (acknowledged or dead-lettered) in the active run.
   *
   * @return units handled
   */
  public long handled() {
    return handled;
  }

  /**
   * Units committed in the active run.
   *
   * @return units committed
   */
  public long committed() {
    return committed;
  }

  /**
   * Completions that arrived for a revoked or lost partition and were ignored.
   *
   * @return completions fenced
   */
  public long fenced() {
    return fenced;
  }

  /**
   * The assigned partitions, ordered by topic and partition.
   *
   * @return the partitions, unmodifiable
   */
  public List<PartitionProgress> partitions() {
    return partitions;
  }

  /**
   * Equal if every figure is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code KafkaProgress} with the same figures
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof KafkaProgress other
        && uncommitted == other.uncommitted
        && capacity == other.capacity
        && running == other.running
        && handled == other.handled
        && committed == other.committed
        && fenced == other.fenced
        && partitions.equals(other.partitions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(uncommitted, capacity, running, handled, committed, fenced, partitions);
  }

  /**
   * One line for logs, e.g. {@code uncommitted=12/64 running=4 handled=100 committed=88
   * partitions=[...]}, with {@code fenced=N} when some were.
   */
  @Override
  public String toString() {
    return "uncommitted="
        + uncommitted
        + "/"
        + capacity
        + " running="
        + running
        + " handled="
        + handled
        + " committed="
        + committed
        + (fenced > 0 ? " fenced=" + fenced : "")
        + " partitions="
        + partitions;
  }

  /**
   * Builds {@link KafkaProgress}, for collector implementations and tests; validation happens in
   * {@link #build()}. One setter per figure, named like its accessor. Not thread-safe.
   */
  public static final class Builder {
    private int uncommitted;
    private int capacity;
    private int running;
    private long handled;
    private long committed;
    private long fenced;
    private List<PartitionProgress> partitions = List.of();

    private Builder() {}

    /**
     * Sets {@link KafkaProgress#uncommitted()}.
     *
     * @param uncommitted units uncommitted
     * @return this builder
     */
    public Builder uncommitted(int uncommitted) {
      this.uncommitted = uncommitted;
      return this;
    }

    /**
     * Sets {@link KafkaProgress#capacity()}.
     *
     * @param capacity the capacity
     * @return this builder
     */
    public Builder capacity(int capacity) {
      this.capacity = capacity;
      return this;
    }

    /**
     * Sets {@link KafkaProgress#running()}.
     *
     * @param running handlers running
     * @return this builder
     */
    public Builder running(int running) {
      this.running = running;
      return this;
    }

    /**
     * Sets {@link KafkaProgress#handled()}.
     *
     * @param handled units handled
     * @return this builder
     */
    public Builder handled(long handled) {
      this.handled = handled;
      return this;
    }

    /**
     * Sets {@link KafkaProgress#committed()}.
     *
     * @param committed units committed
     * @return this builder
     */
    public Builder committed(long committed) {
      this.committed = committed;
      return this;
    }

    /**
     * Sets {@link KafkaProgress#fenced()}.
     *
     * @param fenced completions fenced
     * @return this builder
     */
    public Builder fenced(long fenced) {
      this.fenced = fenced;
      return this;
    }

    /**
     * Sets {@link KafkaProgress#partitions()}.
     *
     * @param partitions the partitions (copied)
     * @return this builder
     */
    public Builder partitions(List<PartitionProgress> partitions) {
      this.partitions = partitions;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the snapshot
     */
    public KafkaProgress build() {
      return new KafkaProgress(this);
    }
  }
}
