package dev.collector;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What one {@link Collector#process} run did.
 *
 * <p>Users read it (the value {@code process} returns). {@link #builder()} is for collector
 * implementations and tests. A final class rather than a record, so that a figure can be added in a
 * minor release without breaking callers: see {@code docs/adr/0008-evolvable-api-types.md}.
 * Immutable; {@link #equals} compares every figure.
 */
public final class ProcessSummary {

  private final long batches;
  private final long records;
  private final long commits;
  private final Duration duration;
  private final boolean stopped;
  private final long uncommitted;
  private final long deadLettered;
  private final Checkpoint checkpoint;

  private ProcessSummary(Builder b) {
    this.batches = b.batches;
    this.records = b.records;
    this.commits = b.commits;
    this.duration = Objects.requireNonNull(b.duration, "duration");
    this.stopped = b.stopped;
    this.uncommitted = b.uncommitted;
    this.deadLettered = b.deadLettered;
    this.checkpoint = Objects.requireNonNull(b.checkpoint, "checkpoint");
    checkNotNegative("batches", batches);
    checkNotNegative("records", records);
    checkNotNegative("commits", commits);
    checkNotNegative("uncommitted", uncommitted);
    checkNotNegative("deadLettered", deadLettered);
    if (duration.isNegative()) {
      throw new IllegalArgumentException("duration must be >= 0, was " + duration);
    }
  }

  private static void checkNotNegative(String name, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(name + " must be >= 0, was " + value);
    }
  }

  /**
   * A builder with every count zero, a zero duration, {@code stopped} false and {@link
   * Checkpoint#INITIAL}, for collector implementations and tests; users read summaries, they do not
   * build them.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Batches handled and committed by this run.
   *
   * @return the batch count
   */
  public long batches() {
    return batches;
  }

  /**
   * Records in those batches.
   *
   * @return the record count
   */
  public long records() {
    return records;
  }

  /**
   * Store commits this run made (group commit makes this at most {@link #batches()}).
   *
   * @return the commit count
   */
  public long commits() {
    return commits;
  }

  /**
   * The run's wall-clock time.
   *
   * @return the duration
   */
  public Duration duration() {
    return duration;
  }

  /**
   * {@code true} if the run ended because of {@link Collector#stop()} rather than the end of the
   * source.
   *
   * @return whether a stop ended the run
   */
  public boolean stopped() {
    return stopped;
  }

  /**
   * Batches fetched but left uncommitted when a stop ended the run; they are delivered again by the
   * next run.
   *
   * @return the uncommitted count
   */
  public long uncommitted() {
    return uncommitted;
  }

  /**
   * Batches handed to the {@link DeadLetterHandler} (counted in {@link #batches()}: they were
   * settled and committed past).
   *
   * @return the dead-lettered count
   */
  public long deadLettered() {
    return deadLettered;
  }

  /**
   * The durable checkpoint when the run returned.
   *
   * @return the checkpoint
   */
  public Checkpoint checkpoint() {
    return checkpoint;
  }

  /**
   * Equal if every figure is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code ProcessSummary} with the same figures
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof ProcessSummary other
        && batches == other.batches
        && records == other.records
        && commits == other.commits
        && duration.equals(other.duration)
        && stopped == other.stopped
        && uncommitted == other.uncommitted
        && deadLettered == other.deadLettered
        && checkpoint.equals(other.checkpoint);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        batches, records, commits, duration, stopped, uncommitted, deadLettered, checkpoint);
  }

  /** Every figure, in the format records use: {@code ProcessSummary[batches=3, ...]}. */
  @Override
  public String toString() {
    return "ProcessSummary[batches="
        + batches
        + ", records="
        + records
        + ", commits="
        + commits
        + ", duration="
        + duration
        + ", stopped="
        + stopped
        + ", uncommitted="
        + uncommitted
        + ", deadLettered="
        + deadLettered
        + ", checkpoint="
        + checkpoint
        + "]";
  }

  /**
   * Builds {@link ProcessSummary}, for collector implementations and tests; validation happens in
   * {@link #build()}. One setter per figure, named like its accessor. Not thread-safe.
   */
  public static final class Builder {
    private long batches;
    private long records;
    private long commits;
    private Duration duration = Duration.ZERO;
    private boolean stopped;
    private long uncommitted;
    private long deadLettered;
    private Checkpoint checkpoint = Checkpoint.INITIAL;

    private Builder() {}

    /**
     * Sets {@link ProcessSummary#batches()}.
     *
     * @param batches the batch count
     * @return this builder
     */
    public Builder batches(long batches) {
      this.batches = batches;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#records()}.
     *
     * @param records the record count
     * @return this builder
     */
    public Builder records(long records) {
      this.records = records;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#commits()}.
     *
     * @param commits the commit count
     * @return this builder
     */
    public Builder commits(long commits) {
      this.commits = commits;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#duration()}.
     *
     * @param duration the run's wall-clock time
     * @return this builder
     */
    public Builder duration(Duration duration) {
      this.duration = duration;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#stopped()}.
     *
     * @param stopped whether a stop ended the run
     * @return this builder
     */
    public Builder stopped(boolean stopped) {
      this.stopped = stopped;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#uncommitted()}.
     *
     * @param uncommitted the uncommitted count
     * @return this builder
     */
    public Builder uncommitted(long uncommitted) {
      this.uncommitted = uncommitted;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#deadLettered()}.
     *
     * @param deadLettered the dead-lettered count
     * @return this builder
     */
    public Builder deadLettered(long deadLettered) {
      this.deadLettered = deadLettered;
      return this;
    }

    /**
     * Sets {@link ProcessSummary#checkpoint()}.
     *
     * @param checkpoint the durable checkpoint
     * @return this builder
     */
    public Builder checkpoint(Checkpoint checkpoint) {
      this.checkpoint = checkpoint;
      return this;
    }

    /**
     * Validates and builds. Only what holds for every implementation is checked; the relations
     * between the counts that a collector reports (dead letters counted in {@code batches}, at most
     * {@code batches} commits with group commit) are what {@code collector-core} does, not rules of
     * this type: a Kafka collector counts its commits per {@code commitSync} and may commit more
     * often than it settles batches.
     *
     * @return the summary
     * @throws NullPointerException if {@code duration} or {@code checkpoint} is null
     * @throws IllegalArgumentException naming the figure, if a count or the duration is negative
     */
    public ProcessSummary build() {
      return new ProcessSummary(this);
    }
  }
}
