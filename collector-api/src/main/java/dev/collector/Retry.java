package dev.collector;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * How often, and how far apart, to try an operation: a handler, a fetch or a commit.
 *
 * <p>Delays grow exponentially from {@link #initialBackoff()}, doubling per failed attempt, capped
 * at {@link #maxBackoff()}, with "full jitter": the actual delay is uniformly random between zero
 * and that bound, so many collectors retrying one broken dependency do not retry in step.
 *
 * <p>Built with {@link #of(int, Duration, Duration)}, or {@link #NONE}. A final class, not a record
 * (ADR 0008): another kind of backoff would be a new factory and a new component, and no caller
 * breaks. Immutable and thread-safe; equal when the three settings are.
 */
public final class Retry {

  /** One attempt, no retry. */
  public static final Retry NONE = new Retry(1, Duration.ZERO, Duration.ZERO);

  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;

  /**
   * Validates the settings.
   *
   * @throws IllegalArgumentException naming the parameter and the value
   */
  private Retry(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be >= 1, was " + maxAttempts);
    }
    if (initialBackoff.isNegative()) {
      throw new IllegalArgumentException("initialBackoff must be >= 0, was " + initialBackoff);
    }
    if (maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException(
          "maxBackoff must be >= initialBackoff (" + initialBackoff + "), was " + maxBackoff);
    }
    this.maxAttempts = maxAttempts;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
  }

  /**
   * Retry up to {@code maxAttempts} attempts in all.
   *
   * @param maxAttempts attempts in all, at least 1
   * @param initialBackoff the delay bound after the first failure
   * @param maxBackoff the cap on the delay bound
   * @return the settings
   * @throws IllegalArgumentException naming the parameter and the value: {@code maxAttempts} below
   *     1, a negative {@code initialBackoff}, or {@code maxBackoff} below it
   * @throws NullPointerException if a duration is null
   */
  public static Retry of(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    return new Retry(maxAttempts, initialBackoff, maxBackoff);
  }

  /**
   * Attempts in all, including the first; 1 means no retry.
   *
   * @return the count, at least 1
   */
  public int maxAttempts() {
    return maxAttempts;
  }

  /**
   * The delay bound after the first failure.
   *
   * @return the bound, not negative
   */
  public Duration initialBackoff() {
    return initialBackoff;
  }

  /**
   * The cap on the delay bound.
   *
   * @return the cap, at least {@link #initialBackoff()}
   */
  public Duration maxBackoff() {
    return maxBackoff;
  }

  /**
   * The delay before the next attempt.
   *
   * @param failedAttempts how many attempts failed so far, at least 1
   * @param random the source of jitter
   * @return a delay between zero and {@code min(maxBackoff, initialBackoff * 2^(failedAttempts -
   *     1))}
   */
  public Duration delay(int failedAttempts, RandomGenerator random) {
    long initial = saturatedNanos(initialBackoff);
    if (initial == 0) {
      return Duration.ZERO;
    }
    long cap = saturatedNanos(maxBackoff);
    int shift = Math.min(Math.max(failedAttempts - 1, 0), 62);
    long bound = initial > (cap >> shift) ? cap : Math.min(cap, initial << shift);
    return Duration.ofNanos(random.nextLong(bound == Long.MAX_VALUE ? bound : bound + 1));
  }

  /** Durations beyond about 292 years count as that long. */
  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException overflow) {
      return Long.MAX_VALUE;
    }
  }

  /** Equal to another {@code Retry} with the same three settings. */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Retry r
        && maxAttempts == r.maxAttempts
        && initialBackoff.equals(r.initialBackoff)
        && maxBackoff.equals(r.maxBackoff);
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxAttempts, initialBackoff, maxBackoff);
  }

  /** The record format: {@code Retry[maxAttempts=3, initialBackoff=PT0.01S, maxBackoff=PT1S]}. */
  @Override
  public String toString() {
    return "Retry[maxAttempts="
        + maxAttempts
        + ", initialBackoff="
        + initialBackoff
        + ", maxBackoff="
        + maxBackoff
        + "]";
  }
}
