package dev.collector;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Immutable collector settings. Build with {@link #builder()}; every setting has a default. Change
 * some settings of existing options with {@link #toBuilder()}.
 *
 * <p>A final class rather than a record, so that a setting can be added in a minor release without
 * breaking callers (no public constructor, no deconstruction pattern): see {@code
 * docs/adr/0008-evolvable-api-types.md}. Instances are immutable and safe to share between threads;
 * {@link #equals} compares every setting.
 */
public final class CollectorOptions {

  /** The largest supported depth: 1 048 576 batches. */
  public static final int MAX_DEPTH = 1 << 20;

  private final String name;
  private final int depth;
  private final AckOrdering ackOrdering;
  private final Duration drainTimeout;
  private final FailurePolicy failurePolicy;
  private final Duration batchTimeout;
  private final Duration stuckThreshold;
  private final Retry fetchRetry;
  private final Retry commitRetry;
  private final int concurrency;
  private final Duration commitInterval;
  private final HandlerContext handlerContext;

  /** Validates the builder's settings; the messages name the setting and the value. */
  private CollectorOptions(Builder b) {
    this.name = Objects.requireNonNull(b.name, "name");
    this.depth = b.depth;
    this.ackOrdering = Objects.requireNonNull(b.ackOrdering, "ackOrdering");
    this.drainTimeout = Objects.requireNonNull(b.drainTimeout, "drainTimeout");
    this.failurePolicy = Objects.requireNonNull(b.failurePolicy, "failurePolicy");
    this.batchTimeout = Objects.requireNonNull(b.batchTimeout, "batchTimeout");
    this.stuckThreshold = Objects.requireNonNull(b.stuckThreshold, "stuckThreshold");
    this.fetchRetry = Objects.requireNonNull(b.fetchRetry, "fetchRetry");
    this.commitRetry = Objects.requireNonNull(b.commitRetry, "commitRetry");
    this.concurrency = b.concurrency;
    this.commitInterval = Objects.requireNonNull(b.commitInterval, "commitInterval");
    this.handlerContext = Objects.requireNonNull(b.handlerContext, "handlerContext");
    if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
      throw new IllegalArgumentException(
          "name must be 1 to 64 letters, digits, '.', '_' or '-', was \"" + name + "\"");
    }
    checkDepth(depth);
    checkNotNegative("drainTimeout", drainTimeout);
    checkNotNegative("batchTimeout", batchTimeout);
    checkNotNegative("stuckThreshold", stuckThreshold);
    checkNotNegative("commitInterval", commitInterval);
    if (concurrency < 0 || concurrency > MAX_DEPTH) {
      throw new IllegalArgumentException(
          "concurrency must be between 1 and "
              + MAX_DEPTH
              + ", or 0 for the depth, was "
              + concurrency);
    }
  }

  /**
   * Names the collector's own threads ({@code orders-owner}, {@code orders-committer}; handler
   * threads, one per batch, are unnamed), log lines and metric tags; letters, digits, {@code . _
   * -}, 1 to 64 characters. Default {@code "collector"}.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The pull API's window: how many batches may be fetched but not yet committed, 1 to {@link
   * #MAX_DEPTH}. {@link Collector#process} takes its own depth. Default 16.
   *
   * @return the depth
   */
  public int depth() {
    return depth;
  }

  /**
   * How the pull API treats out-of-order acknowledgements. Default {@link AckOrdering#BUFFERED}.
   *
   * @return the ordering
   */
  public AckOrdering ackOrdering() {
    return ackOrdering;
  }

  /**
   * How long {@link Collector#stop()} lets running handlers finish before interrupting them; zero
   * interrupts at once. Default 30 seconds.
   *
   * @return the drain timeout
   */
  public Duration drainTimeout() {
    return drainTimeout;
  }

  /**
   * How a failed batch is settled. Default {@link FailurePolicy#failFast()}.
   *
   * @return the policy
   */
  public FailurePolicy failurePolicy() {
    return failurePolicy;
  }

  /**
   * How long one handler attempt may run before its thread is interrupted and the attempt counts as
   * failed with {@link java.util.concurrent.TimeoutException}; zero means no limit. Checked a few
   * times per timeout period, so it fires up to a quarter late. {@link Collector#process} only.
   * Default zero.
   *
   * @return the limit per handler attempt
   */
  public Duration batchTimeout() {
    return batchTimeout;
  }

  /**
   * A batch running longer than this (from handler start or delivery) is logged once as stuck at
   * WARNING; zero turns the check off. Default 60 seconds.
   *
   * @return the threshold
   */
  public Duration stuckThreshold() {
    return stuckThreshold;
  }

  /**
   * How a failed fetch is retried (the reader is reopened at the last fetched position) before the
   * run fails with {@link SourceException}. Default 3 attempts, 10 ms to 1 s apart.
   *
   * @return attempts and backoff for fetches
   */
  public Retry fetchRetry() {
    return fetchRetry;
  }

  /**
   * How a failed commit is retried before the run fails with {@link CheckpointException}. Default 3
   * attempts, 10 ms to 1 s apart.
   *
   * @return attempts and backoff for commits
   */
  public Retry commitRetry() {
    return commitRetry;
  }

  /**
   * How many batches may run at once (handlers in {@link Collector#process}, unsettled deliveries
   * in the pull API), 1 to {@link #MAX_DEPTH}, or 0 for "as many as the depth allows". A run uses
   * {@code min(concurrency, depth)}: read ahead 1024 batches but run 64 against a rate-limited
   * sink. Default 0.
   *
   * @return the concurrency, or 0
   */
  public int concurrency() {
    return concurrency;
  }

  /**
   * How long the committer lingers after a commit before the next one, so that a fast source
   * commits less often (each commit still covers the newest contiguous acknowledged prefix); zero
   * commits as soon as there is something to commit. The final commit of a run never lingers.
   * Default zero.
   *
   * @return the linger between commits
   */
  public Duration commitInterval() {
    return commitInterval;
  }

  /**
   * Wraps every handler attempt of {@link Collector#process} (each retry too) on the handler's own
   * virtual thread, to set up per-batch context such as an MDC or a tracing span; see {@link
   * HandlerContext} for what happens when it throws, skips or repeats the attempt. The pull API
   * runs no hook. Default {@link HandlerContext#NONE}, which runs the attempt and nothing else.
   *
   * @return the hook around every handler attempt
   */
  public HandlerContext handlerContext() {
    return handlerContext;
  }

  /**
   * Equal if every setting is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code CollectorOptions} with the same settings
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof CollectorOptions other
        && name.equals(other.name)
        && depth == other.depth
        && ackOrdering == other.ackOrdering
        && drainTimeout.equals(other.drainTimeout)
        && failurePolicy.equals(other.failurePolicy)
        && batchTimeout.equals(other.batchTimeout)
        && stuckThreshold.equals(other.stuckThreshold)
        && fetchRetry.equals(other.fetchRetry)
        && commitRetry.equals(other.commitRetry)
        && concurrency == other.concurrency
        && commitInterval.equals(other.commitInterval)
        && handlerContext.equals(other.handlerContext);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        name,
        depth,
        ackOrdering,
        drainTimeout,
        failurePolicy,
        batchTimeout,
        stuckThreshold,
        fetchRetry,
        commitRetry,
        concurrency,
        commitInterval,
        handlerContext);
  }

  /**
   * Every setting, in the format records use: {@code CollectorOptions[name=collector, depth=16,
   * ...]}.
   */
  @Override
  public String toString() {
    return "CollectorOptions[name="
        + name
        + ", depth="
        + depth
        + ", ackOrdering="
        + ackOrdering
        + ", drainTimeout="
        + drainTimeout
        + ", failurePolicy="
        + failurePolicy
        + ", batchTimeout="
        + batchTimeout
        + ", stuckThreshold="
        + stuckThreshold
        + ", fetchRetry="
        + fetchRetry
        + ", commitRetry="
        + commitRetry
        + ", concurrency="
        + concurrency
        + ", commitInterval="
        + commitInterval
        + ", handlerContext="
        + (handlerContext == HandlerContext.NONE ? "NONE" : handlerContext)
        + "]";
  }

  /**
   * How many batches a run with {@code depth} lets run at once.
   *
   * @param depth the run's depth
   * @return {@code min(concurrency, depth)}, or {@code depth} when {@code concurrency} is 0
   */
  public int concurrencyFor(int depth) {
    return concurrency == 0 ? depth : Math.min(concurrency, depth);
  }

  private static void checkNotNegative(String parameter, Duration value) {
    if (value.isNegative()) {
      throw new IllegalArgumentException(parameter + " must be >= 0, was " + value);
    }
  }

  /**
   * Checks a depth given to {@link #depth()} or {@link Collector#process}.
   *
   * @param depth the depth
   * @return {@code depth}
   * @throws IllegalArgumentException if it is not between 1 and {@link #MAX_DEPTH}
   */
  public static int checkDepth(int depth) {
    if (depth < 1 || depth > MAX_DEPTH) {
      throw new IllegalArgumentException(
          "depth must be between 1 and "
              + MAX_DEPTH
              + " (CollectorOptions.MAX_DEPTH), was "
              + depth);
    }
    return depth;
  }

  /**
   * The default settings.
   *
   * @return the options {@code builder().build()} returns
   */
  public static CollectorOptions defaults() {
    return builder().build();
  }

  /**
   * A builder starting from the defaults.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder starting from these options, to change some of them.
   *
   * @return a new builder holding these options
   */
  public Builder toBuilder() {
    return new Builder()
        .name(name)
        .depth(depth)
        .ackOrdering(ackOrdering)
        .drainTimeout(drainTimeout)
        .failurePolicy(failurePolicy)
        .batchTimeout(batchTimeout)
        .stuckThreshold(stuckThreshold)
        .fetchRetry(fetchRetry)
        .commitRetry(commitRetry)
        .concurrency(concurrency)
        .commitInterval(commitInterval)
        .handlerContext(handlerContext);
  }

  /**
   * Builds {@link CollectorOptions}; validation happens in {@link #build()}. One setter per
   * setting, named like its accessor. Not thread-safe; build on one thread.
   */
  public static final class Builder {
    private String name = "collector";
    private int depth = 16;
    private AckOrdering ackOrdering = AckOrdering.BUFFERED;
    private Duration drainTimeout = Duration.ofSeconds(30);
    private FailurePolicy failurePolicy = FailurePolicy.failFast();
    private Duration batchTimeout = Duration.ZERO;
    private Duration stuckThreshold = Duration.ofSeconds(60);
    private Retry fetchRetry = Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1));
    private Retry commitRetry = Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1));
    private int concurrency;
    private Duration commitInterval = Duration.ZERO;
    private HandlerContext handlerContext = HandlerContext.NONE;

    private Builder() {}

    /**
     * Sets {@link CollectorOptions#name()}.
     *
     * @param name the name
     * @return this builder
     */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#depth()}.
     *
     * @param depth the pull window
     * @return this builder
     */
    public Builder depth(int depth) {
      this.depth = depth;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#ackOrdering()}.
     *
     * @param ackOrdering the ordering
     * @return this builder
     */
    public Builder ackOrdering(AckOrdering ackOrdering) {
      this.ackOrdering = ackOrdering;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#drainTimeout()}.
     *
     * @param drainTimeout the drain timeout
     * @return this builder
     */
    public Builder drainTimeout(Duration drainTimeout) {
      this.drainTimeout = drainTimeout;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#failurePolicy()}.
     *
     * @param failurePolicy the policy
     * @return this builder
     */
    public Builder failurePolicy(FailurePolicy failurePolicy) {
      this.failurePolicy = failurePolicy;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#batchTimeout()}.
     *
     * @param batchTimeout the limit per handler attempt, zero for none
     * @return this builder
     */
    public Builder batchTimeout(Duration batchTimeout) {
      this.batchTimeout = batchTimeout;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#stuckThreshold()}.
     *
     * @param stuckThreshold the age at which a running batch is reported, zero for never
     * @return this builder
     */
    public Builder stuckThreshold(Duration stuckThreshold) {
      this.stuckThreshold = stuckThreshold;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#fetchRetry()}.
     *
     * @param fetchRetry attempts and backoff for fetches
     * @return this builder
     */
    public Builder fetchRetry(Retry fetchRetry) {
      this.fetchRetry = fetchRetry;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#commitRetry()}.
     *
     * @param commitRetry attempts and backoff for commits
     * @return this builder
     */
    public Builder commitRetry(Retry commitRetry) {
      this.commitRetry = commitRetry;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#concurrency()}.
     *
     * @param concurrency batches running at once at most, or 0 for the depth
     * @return this builder
     */
    public Builder concurrency(int concurrency) {
      this.concurrency = concurrency;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#commitInterval()}.
     *
     * @param commitInterval the linger between commits, zero for none
     * @return this builder
     */
    public Builder commitInterval(Duration commitInterval) {
      this.commitInterval = commitInterval;
      return this;
    }

    /**
     * Sets {@link CollectorOptions#handlerContext()}.
     *
     * @param handlerContext the hook around every handler attempt
     * @return this builder
     */
    public Builder handlerContext(HandlerContext handlerContext) {
      this.handlerContext = handlerContext;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the options
     * @throws IllegalArgumentException if a setting is out of range
     */
    public CollectorOptions build() {
      return new CollectorOptions(this);
    }
  }
}
