package dev.collector;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of a collector's position. The three positions are sequence numbers and always satisfy
 * {@code committed <= acknowledged <= fetched}.
 *
 * <p>Users read it ({@link Collector#progress()}). {@link #builder()} is for collector
 * implementations and tests. A final class rather than a record, so that a figure can be added in a
 * minor release without breaking callers: see {@code docs/adr/0008-evolvable-api-types.md}.
 * Immutable; {@link #equals} compares every figure.
 */
public final class Progress {

  private final long fetched;
  private final long acknowledged;
  private final long committed;
  private final int inFlight;
  private final int running;
  private final int waiting;
  private final int capacity;
  private final Duration oldestRunning;
  private final int stuck;

  private Progress(Builder b) {
    this.fetched = b.fetched;
    this.acknowledged = b.acknowledged;
    this.committed = b.committed;
    this.inFlight = b.inFlight;
    this.running = b.running;
    this.waiting = b.waiting;
    this.capacity = b.capacity;
    this.oldestRunning = Objects.requireNonNull(b.oldestRunning, "oldestRunning");
    this.stuck = b.stuck;
    if (committed < 0 || committed > acknowledged || acknowledged > fetched) {
      throw new IllegalArgumentException(
          "positions must satisfy 0 <= committed <= acknowledged <= fetched, were committed="
              + committed
              + " acknowledged="
              + acknowledged
              + " fetched="
              + fetched);
    }
    notNegative("inFlight", inFlight);
    notNegative("running", running);
    notNegative("waiting", waiting);
    notNegative("capacity", capacity);
    notNegative("stuck", stuck);
    if (oldestRunning.isNegative()) {
      throw new IllegalArgumentException("oldestRunning must be >= 0, was " + oldestRunning);
    }
  }

  private static void notNegative(String figure, int value) {
    if (value < 0) {
      throw new IllegalArgumentException(figure + " must be >= 0, was " + value);
    }
  }

  /**
   * A builder with every figure zero, for collector implementations and tests; users read progress,
   * they do not build it.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The sequence of the next batch to fetch.
   *
   * @return the fetch position
   */
  public long fetched() {
    return fetched;
  }

  /**
   * Every batch below this sequence was acknowledged.
   *
   * @return the acknowledged position
   */
  public long acknowledged() {
    return acknowledged;
  }

  /**
   * Every batch below this sequence is durably committed (the checkpoint).
   *
   * @return the committed position
   */
  public long committed() {
    return committed;
  }

  /**
   * Fetched but not yet committed: {@code fetched - committed}, at most {@link #capacity()}.
   *
   * @return batches in flight
   */
  public int inFlight() {
    return inFlight;
  }

  /**
   * Delivered to a handler or a pull caller and not yet settled.
   *
   * @return batches running
   */
  public int running() {
    return running;
  }

  /**
   * Settled but waiting for an earlier batch (the out-of-order buffer).
   *
   * @return batches waiting
   */
  public int waiting() {
    return waiting;
  }

  /**
   * The active window's depth, or 0 when no run is active.
   *
   * @return the capacity
   */
  public int capacity() {
    return capacity;
  }

  /**
   * How long the longest-running unsettled batch has been running, measured from the start of its
   * current attempt (handler start, or delivery); zero if none runs.
   *
   * @return the oldest running batch's age
   */
  public Duration oldestRunning() {
    return oldestRunning;
  }

  /**
   * Running batches older than {@link CollectorOptions#stuckThreshold()}.
   *
   * @return batches stuck
   */
  public int stuck() {
    return stuck;
  }

  /**
   * Equal if every figure is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code Progress} with the same figures
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Progress other
        && fetched == other.fetched
        && acknowledged == other.acknowledged
        && committed == other.committed
        && inFlight == other.inFlight
        && running == other.running
        && waiting == other.waiting
        && capacity == other.capacity
        && oldestRunning.equals(other.oldestRunning)
        && stuck == other.stuck;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        fetched,
        acknowledged,
        committed,
        inFlight,
        running,
        waiting,
        capacity,
        oldestRunning,
        stuck);
  }

  /**
   * One line for logs, e.g. {@code fetched=120 acked=100 committed=96 inFlight=24/64 running=20
   * waiting=3 oldest=1.2s}, with {@code stuck=N} appended when some are.
   */
  @Override
  public String toString() {
    return "fetched="
        + fetched
        + " acked="
        + acknowledged
        + " committed="
        + committed
        + " inFlight="
        + inFlight
        + "/"
        + capacity
        + " running="
        + running
        + " waiting="
        + waiting
        + " oldest="
        + formatSeconds(oldestRunning)
        + (stuck > 0 ? " stuck=" + stuck : "");
  }

  private static String formatSeconds(Duration d) {
    long millis = d.toMillis();
    return (millis / 1000) + "." + (millis % 1000) / 100 + "s";
  }

  /**
   * Builds {@link Progress}, for collector implementations and tests; validation happens in {@link
   * #build()}. One setter per figure, named like its accessor. Not thread-safe.
   */
  public static final class Builder {
    private long fetched;
    private long acknowledged;
    private long committed;
    private int inFlight;
    private int running;
    private int waiting;
    private int capacity;
    private Duration oldestRunning = Duration.ZERO;
    private int stuck;

    private Builder() {}

    /**
     * Sets {@link Progress#fetched()}.
     *
     * @param fetched the fetch position
     * @return this builder
     */
    public Builder fetched(long fetched) {
      this.fetched = fetched;
      return this;
    }

    /**
     * Sets {@link Progress#acknowledged()}.
     *
     * @param acknowledged the acknowledged position
     * @return this builder
     */
    public Builder acknowledged(long acknowledged) {
      this.acknowledged = acknowledged;
      return this;
    }

    /**
     * Sets {@link Progress#committed()}.
     *
     * @param committed the committed position
     * @return this builder
     */
    public Builder committed(long committed) {
      this.committed = committed;
      return this;
    }

    /**
     * Sets {@link Progress#inFlight()}.
     *
     * @param inFlight batches in flight
     * @return this builder
     */
    public Builder inFlight(int inFlight) {
      this.inFlight = inFlight;
      return this;
    }

    /**
     * Sets {@link Progress#running()}.
     *
     * @param running batches running
     * @return this builder
     */
    public Builder running(int running) {
      this.running = running;
      return this;
    }

    /**
     * Sets {@link Progress#waiting()}.
     *
     * @param waiting batches waiting
     * @return this builder
     */
    public Builder waiting(int waiting) {
      this.waiting = waiting;
      return this;
    }

    /**
     * Sets {@link Progress#capacity()}.
     *
     * @param capacity the window's depth, 0 when no run is active
     * @return this builder
     */
    public Builder capacity(int capacity) {
      this.capacity = capacity;
      return this;
    }

    /**
     * Sets {@link Progress#oldestRunning()}.
     *
     * @param oldestRunning the oldest running batch's age
     * @return this builder
     */
    public Builder oldestRunning(Duration oldestRunning) {
      this.oldestRunning = oldestRunning;
      return this;
    }

    /**
     * Sets {@link Progress#stuck()}.
     *
     * @param stuck batches stuck
     * @return this builder
     */
    public Builder stuck(int stuck) {
      this.stuck = stuck;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the progress
     *     <p>{@code inFlight <= capacity} is what the library's collectors report but is not
     *     checked here: a snapshot taken while a run starts or ends may see the old capacity, and
     *     {@code progress()} must never throw.
     * @throws IllegalArgumentException if {@code 0 <= committed <= acknowledged <= fetched} does
     *     not hold or a figure is negative
     * @throws NullPointerException if {@code oldestRunning} is null
     */
    public Progress build() {
      return new Progress(this);
    }
  }
}
