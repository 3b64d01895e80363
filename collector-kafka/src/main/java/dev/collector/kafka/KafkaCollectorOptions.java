package dev.collector.kafka;

import dev.collector.FailurePolicy;
import dev.collector.Retry;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link KafkaCollector} consumes: which topics, how records are cut into batches, and what
 * happens on failures, rebalances and shutdown. Build with {@link #builder()}; every setting but
 * the subscription has a default.
 *
 * <p>A final class rather than a record, so that a setting can be added in a minor release without
 * breaking callers: see {@code docs/adr/0008-evolvable-api-types.md}. Immutable; {@link #equals}
 * compares every setting (a pattern by identity, as {@link Pattern} does).
 */
public final class KafkaCollectorOptions {

  private final String name;
  private final List<String> topics;
  private final @Nullable Pattern pattern;
  private final int maxBatchRecords;
  private final int maxBatchBytes;
  private final FailurePolicy failurePolicy;
  private final Duration drainTimeout;
  private final Duration revokeDrainTimeout;
  private final Duration commitInterval;
  private final Duration commitTimeout;
  private final Retry commitRetry;
  private final Duration startupTimeout;
  private final Duration pollTimeout;
  private final int pullDepth;

  /** Validates the builder's settings; the messages name the setting and the value. */
  private KafkaCollectorOptions(Builder b) {
    this.name = Objects.requireNonNull(b.name, "name");
    this.topics = List.copyOf(b.topics);
    this.pattern = b.pattern;
    if ((pattern == null) == topics.isEmpty()) {
      throw new IllegalArgumentException(
          "set either topics or a pattern, not both and not neither; topics="
              + topics
              + " pattern="
              + pattern);
    }
    this.maxBatchRecords = b.maxBatchRecords;
    this.maxBatchBytes = b.maxBatchBytes;
    if (maxBatchRecords < 1) {
      throw new IllegalArgumentException("maxBatchRecords must be >= 1, was " + maxBatchRecords);
    }
    if (maxBatchBytes < 1) {
      throw new IllegalArgumentException("maxBatchBytes must be >= 1, was " + maxBatchBytes);
    }
    this.failurePolicy = Objects.requireNonNull(b.failurePolicy, "failurePolicy");
    this.commitRetry = Objects.requireNonNull(b.commitRetry, "commitRetry");
    this.drainTimeout = positive("drainTimeout", b.drainTimeout, true);
    this.revokeDrainTimeout = positive("revokeDrainTimeout", b.revokeDrainTimeout, true);
    this.commitInterval = positive("commitInterval", b.commitInterval, true);
    this.commitTimeout = positive("commitTimeout", b.commitTimeout, false);
    this.startupTimeout = positive("startupTimeout", b.startupTimeout, false);
    this.pollTimeout = positive("pollTimeout", b.pollTimeout, false);
    this.pullDepth = dev.collector.CollectorOptions.checkDepth(b.pullDepth);
  }

  /**
   * Names handler threads ({@code orders-handler-3}) and log lines. Default {@code "kafka"}.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The topics to subscribe to, or empty when {@link #pattern()} is set.
   *
   * @return the topics, unmodifiable
   */
  public List<String> topics() {
    return topics;
  }

  /**
   * A subscription pattern, or {@code null} when {@link #topics()} is set.
   *
   * @return the pattern, or null
   */
  public @Nullable Pattern pattern() {
    return pattern;
  }

  /**
   * Batch mode: at most this many records per batch. Default 500.
   *
   * @return the record limit per batch
   */
  public int maxBatchRecords() {
    return maxBatchRecords;
  }

  /**
   * Batch mode: at most this many key plus value bytes per batch, though a batch always takes at
   * least one record. Default 1 MiB.
   *
   * @return the byte limit per batch
   */
  public int maxBatchBytes() {
    return maxBatchBytes;
  }

  /**
   * How a failed batch or record is settled. Default fail-fast.
   *
   * @return the policy
   */
  public FailurePolicy failurePolicy() {
    return failurePolicy;
  }

  /**
   * How long {@link KafkaCollector#stop()} lets running handlers finish before interrupting them.
   * Default 30 s.
   *
   * @return the drain bound
   */
  public Duration drainTimeout() {
    return drainTimeout;
  }

  /**
   * How long running handlers of a revoked partition may finish before they are interrupted and the
   * partition is fenced; must be below the consumer's {@code max.poll.interval.ms}. Default 10 s.
   *
   * @return the revoke drain bound
   */
  public Duration revokeDrainTimeout() {
    return revokeDrainTimeout;
  }

  /**
   * The longest a handled prefix waits for its commit while the window has room; commits are
   * coalesced over partitions. Default 100 ms.
   *
   * @return the commit linger
   */
  public Duration commitInterval() {
    return commitInterval;
  }

  /**
   * How long one {@code commitSync} may take. Default 10 s.
   *
   * @return the bound of one commit
   */
  public Duration commitTimeout() {
    return commitTimeout;
  }

  /**
   * How a failed commit is retried before the run fails. Default 5 attempts, 100 ms to 2 s backoff.
   *
   * @return attempts and backoff for commits
   */
  public Retry commitRetry() {
    return commitRetry;
  }

  /**
   * How long {@code process} waits for the topics' metadata before it fails with a {@link
   * dev.collector.SourceException}. Default 30 s.
   *
   * @return the startup bound
   */
  public Duration startupTimeout() {
    return startupTimeout;
  }

  /**
   * The longest one {@code poll} blocks; bounds how fast a stop, a freed slot or a pending commit
   * is noticed. Default 10 ms.
   *
   * @return the bound of one poll
   */
  public Duration pollTimeout() {
    return pollTimeout;
  }

  /**
   * The pull API's window: batches fetched but not yet committed. Default 64.
   *
   * @return the pull depth
   */
  public int pullDepth() {
    return pullDepth;
  }

  /**
   * Equal if every setting is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code KafkaCollectorOptions} with the same settings
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof KafkaCollectorOptions other
        && Objects.equals(name, other.name)
        && Objects.equals(topics, other.topics)
        && Objects.equals(pattern, other.pattern)
        && maxBatchRecords == other.maxBatchRecords
        && maxBatchBytes == other.maxBatchBytes
        && Objects.equals(failurePolicy, other.failurePolicy)
        && Objects.equals(drainTimeout, other.drainTimeout)
        && Objects.equals(revokeDrainTimeout, other.revokeDrainTimeout)
        && Objects.equals(commitInterval, other.commitInterval)
        && Objects.equals(commitTimeout, other.commitTimeout)
        && Objects.equals(commitRetry, other.commitRetry)
        && Objects.equals(startupTimeout, other.startupTimeout)
        && Objects.equals(pollTimeout, other.pollTimeout)
        && pullDepth == other.pullDepth;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        name,
        topics,
        pattern,
        maxBatchRecords,
        maxBatchBytes,
        failurePolicy,
        drainTimeout,
        revokeDrainTimeout,
        commitInterval,
        commitTimeout,
        commitRetry,
        startupTimeout,
        pollTimeout,
        pullDepth);
  }

  /** Every setting, in the format records use: {@code KafkaCollectorOptions[name=kafka, ...]}. */
  @Override
  public String toString() {
    return "KafkaCollectorOptions[name="
        + name
        + ", topics="
        + topics
        + ", pattern="
        + pattern
        + ", maxBatchRecords="
        + maxBatchRecords
        + ", maxBatchBytes="
        + maxBatchBytes
        + ", failurePolicy="
        + failurePolicy
        + ", drainTimeout="
        + drainTimeout
        + ", revokeDrainTimeout="
        + revokeDrainTimeout
        + ", commitInterval="
        + commitInterval
        + ", commitTimeout="
        + commitTimeout
        + ", commitRetry="
        + commitRetry
        + ", startupTimeout="
        + startupTimeout
        + ", pollTimeout="
        + pollTimeout
        + ", pullDepth="
        + pullDepth
        + "]";
  }

  private static Duration positive(String setting, Duration value, boolean zeroAllowed) {
    Objects.requireNonNull(value, setting);
    if (value.isNegative() || (!zeroAllowed && value.isZero())) {
      throw new IllegalArgumentException(
          setting + " must be " + (zeroAllowed ? ">= 0" : "> 0") + ", was " + value);
    }
    return value;
  }

  /**
   * A builder with the defaults.
   *
   * @return the builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link KafkaCollectorOptions}. */
  public static final class Builder {
    private String name = "kafka";
    private List<String> topics = List.of();
    private @Nullable Pattern pattern;
    private int maxBatchRecords = 500;
    private int maxBatchBytes = 1 << 20;
    private FailurePolicy failurePolicy = FailurePolicy.failFast();
    private Duration drainTimeout = Duration.ofSeconds(30);
    private Duration revokeDrainTimeout = Duration.ofSeconds(10);
    private Duration commitInterval = Duration.ofMillis(100);
    private Duration commitTimeout = Duration.ofSeconds(10);
    private Retry commitRetry = Retry.of(5, Duration.ofMillis(100), Duration.ofSeconds(2));
    private Duration startupTimeout = Duration.ofSeconds(30);
    private Duration pollTimeout = Duration.ofMillis(10);
    private int pullDepth = 64;

    private Builder() {}

    /**
     * Sets the name.
     *
     * @param name the name
     * @return this builder
     */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    /**
     * Subscribes to these topics.
     *
     * @param topics topic names
     * @return this builder
     */
    public Builder topics(String... topics) {
      this.topics = List.of(topics);
      return this;
    }

    /**
     * Subscribes to the topics matching a pattern.
     *
     * @param pattern the pattern
     * @return this builder
     */
    public Builder pattern(Pattern pattern) {
      this.pattern = pattern;
      return this;
    }

    /**
     * Sets the batch size bounds of batch mode.
     *
     * @param records at most this many records per batch
     * @param bytes at most this many key plus value bytes per batch
     * @return this builder
     */
    public Builder maxBatch(int records, int bytes) {
      this.maxBatchRecords = records;
      this.maxBatchBytes = bytes;
      return this;
    }

    /**
     * Sets the failure policy.
     *
     * @param policy the policy
     * @return this builder
     */
    public Builder failurePolicy(FailurePolicy policy) {
      this.failurePolicy = policy;
      return this;
    }

    /**
     * Sets the drain bound of {@link KafkaCollector#stop()}.
     *
     * @param timeout the bound
     * @return this builder
     */
    public Builder drainTimeout(Duration timeout) {
      this.drainTimeout = timeout;
      return this;
    }

    /**
     * Sets the drain bound of a revoked partition.
     *
     * @param timeout the bound, below {@code max.poll.interval.ms}
     * @return this builder
     */
    public Builder revokeDrainTimeout(Duration timeout) {
      this.revokeDrainTimeout = timeout;
      return this;
    }

    /**
     * Sets the commit linger.
     *
     * @param interval the interval
     * @return this builder
     */
    public Builder commitInterval(Duration interval) {
      this.commitInterval = interval;
      return this;
    }

    /**
     * Sets the time bound and retries of one commit.
     *
     * @param timeout the bound of one {@code commitSync}
     * @param retry attempts and backoff
     * @return this builder
     */
    public Builder commit(Duration timeout, Retry retry) {
      this.commitTimeout = timeout;
      this.commitRetry = retry;
      return this;
    }

    /**
     * Sets how long the start of a run waits for the brokers.
     *
     * @param timeout the bound
     * @return this builder
     */
    public Builder startupTimeout(Duration timeout) {
      this.startupTimeout = timeout;
      return this;
    }

    /**
     * Sets the longest single poll.
     *
     * @param timeout the bound
     * @return this builder
     */
    public Builder pollTimeout(Duration timeout) {
      this.pollTimeout = timeout;
      return this;
    }

    /**
     * Sets the pull API's window.
     *
     * @param depth batches fetched but not yet committed at most
     * @return this builder
     */
    public Builder pullDepth(int depth) {
      this.pullDepth = depth;
      return this;
    }

    /**
     * Builds the options.
     *
     * @return the options
     * @throws IllegalArgumentException if a setting is invalid
     */
    public KafkaCollectorOptions build() {
      return new KafkaCollectorOptions(this);
    }
  }
}
