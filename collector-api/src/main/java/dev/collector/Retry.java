package dev.collector;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * How often, and how far apart, to try an operation: a handler, a fetch or a commit.
 *
 * <p>Delays grow exponentially from {@code initialBackoff}, doubling per failed attempt, capped
 * at {@code maxBackoff}, with "full jitter": the actual delay is uniformly random between zero
 * and that bound, so many collectors retrying one broken dependency do not retry in step.
 *
 * @param maxAttempts attempts in all, including the first; 1 means no retry
 * @param initialBackoff the delay bound after the first failure
 * @param maxBackoff the cap on the delay bound
 */
public record Retry(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {

  /** One attempt, no retry. */
  public static final Retry NONE = new Retry(1, Duration.ZERO, Duration.ZERO);

  /**
   * Validates the settings.
   *
   * @throws IllegalArgumentException naming the parameter and the value
   */
  public Retry {
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
  }

  /**
   * Retry up to {@code maxAttempts} attempts in all.
   *
   * @param maxAttempts attempts in all, at least 1
   * @param initialBackoff the delay bound after the first failure
   * @param maxBackoff the cap on the delay bound
   * @return the settings
   */
  public static Retry of(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    return new Retry(maxAttempts, initialBackoff, maxBackoff);
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
}
