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
 * happens on failures, rebalances and shutdown. Build with {@link #builder()}.
 *
 * @param name names handler threads ({@code orders-handler-3}) and log lines
 * @param topics the topics to subscribe to, or empty when {@code pattern} is set
 * @param pattern a subscription pattern, or {@code null} when {@code topics} is set
 * @param maxBatchRecords batch mode: at most this many records per batch (default 500)
 * @param maxBatchBytes batch mode: at most this many key plus value bytes per batch, though a
 *     batch always takes at least one record (default 1 MiB)
 * @param failurePolicy how a failed batch or record is settled (default fail-fast)
 * @param drainTimeout how long {@link KafkaCollector#stop()} lets running handlers finish before
 *     interrupting them (default 30 s)
 * @param revokeDrainTimeout how long running handlers of a revoked partition may finish before
 *     they are interrupted and the partition is fenced; must be below the consumer's {@code
 *     max.poll.interval.ms} (default 10 s)
 * @param commitInterval the longest a handled prefix waits for its commit while the window has
 *     room; commits are coalesced over partitions (default 100 ms)
 * @param commitTimeout how long one {@code commitSync} may take (default 10 s)
 * @param commitRetry how a failed commit is retried before the run fails (default 5 attempts,
 *     100 ms to 2 s backoff)
 * @param startupTimeout how long {@code process} waits for the topics' metadata before it fails
 *     with a {@link dev.collector.SourceException} (default 30 s)
 * @param pollTimeout the longest one {@code poll} blocks; bounds how fast a stop, a freed slot or
 *     a pending commit is noticed (default 10 ms)
 * @param pullDepth the pull API's window: batches fetched but not yet committed (default 64)
 */
public record KafkaCollectorOptions(
    String name,
    List<String> topics,
    @Nullable Pattern pattern,
    int maxBatchRecords,
    int maxBatchBytes,
    FailurePolicy failurePolicy,
    Duration drainTimeout,
    Duration revokeDrainTimeout,
    Duration commitInterval,
    Duration commitTimeout,
    Retry commitRetry,
    Duration startupTimeout,
    Duration pollTimeout,
    int pullDepth) {

  /**
   * Validates the settings.
   *
   * @throws IllegalArgumentException naming the setting and the value
   */
  public KafkaCollectorOptions {
    Objects.requireNonNull(name, "name");
    topics = List.copyOf(topics);
    if ((pattern == null) == topics.isEmpty()) {
      throw new IllegalArgumentException(
          "set either topics or a pattern, not both and not neither; topics=" + topics
              + " pattern=" + pattern);
    }
    if (maxBatchRecords < 1) {
      throw new IllegalArgumentException("maxBatchRecords must be >= 1, was " + maxBatchRecords);
    }
    if (maxBatchBytes < 1) {
      throw new IllegalArgumentException("maxBatchBytes must be >= 1, was " + maxBatchBytes);
    }
    Objects.requireNonNull(failurePolicy, "failurePolicy");
    Objects.requireNonNull(commitRetry, "commitRetry");
    positive("drainTimeout", drainTimeout, true);
    positive("revokeDrainTimeout", revokeDrainTimeout, true);
    positive("commitInterval", commitInterval, true);
    positive("commitTimeout", commitTimeout, false);
    positive("startupTimeout", startupTimeout, false);
    positive("pollTimeout", pollTimeout, false);
    dev.collector.CollectorOptions.checkDepth(pullDepth);
  }

  private static void positive(String setting, Duration value, boolean zeroAllowed) {
    Objects.requireNonNull(value, setting);
    if (value.isNegative() || (!zeroAllowed && value.isZero())) {
      throw new IllegalArgumentException(
          setting + " must be " + (zeroAllowed ? ">= 0" : "> 0") + ", was " + value);
    }
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
      return new KafkaCollectorOptions(name, topics, pattern, maxBatchRecords, maxBatchBytes,
          failurePolicy, drainTimeout, revokeDrainTimeout, commitInterval, commitTimeout,
          commitRetry, startupTimeout, pollTimeout, pullDepth);
    }
  }
}
