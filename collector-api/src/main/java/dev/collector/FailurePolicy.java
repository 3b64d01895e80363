package dev.collector;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a failed batch is settled: retried up to {@link Retry#maxAttempts()}, then either handed to a
 * {@link DeadLetterHandler} (and the run goes on) or failing the run (fail-fast: stop fetching,
 * interrupt the other handlers, commit the acknowledged prefix, throw {@link
 * BatchFailedException}).
 *
 * {@snippet class=dev.collector.core.JavadocExamplesTest region=failurePolicy}
 *
 * <p>Built with the factories above. A final class, not a record (ADR 0008): a setting may be added
 * (a classifier of retryable failures) as a new method with a default, and no caller breaks.
 * Immutable and thread-safe; equal when the retry settings are equal and the dead-letter handler is
 * the same (or both are absent).
 */
public final class FailurePolicy {

  private final Retry retry;
  private final @Nullable DeadLetterHandler deadLetter;

  private FailurePolicy(Retry retry, @Nullable DeadLetterHandler deadLetter) {
    this.retry = Objects.requireNonNull(retry, "retry");
    this.deadLetter = deadLetter;
  }

  /**
   * No retry, no dead letter: the first failure fails the run. The default.
   *
   * @return the policy
   */
  public static FailurePolicy failFast() {
    return new FailurePolicy(Retry.NONE, null);
  }

  /**
   * Retry, then fail the run.
   *
   * @param retry attempts and backoff
   * @return the policy
   * @throws NullPointerException if {@code retry} is null
   */
  public static FailurePolicy retry(Retry retry) {
    return new FailurePolicy(retry, null);
  }

  /**
   * This policy's retries (and every other setting of it), then the dead-letter handler instead of
   * failing the run. A dead-letter handler this policy had is replaced.
   *
   * @param handler where exhausted batches go
   * @return the new policy
   * @throws NullPointerException if {@code handler} is null
   */
  public FailurePolicy thenDeadLetter(DeadLetterHandler handler) {
    return new FailurePolicy(retry, Objects.requireNonNull(handler, "handler"));
  }

  /**
   * Attempts per batch and the backoff between them.
   *
   * @return the retry settings
   */
  public Retry retry() {
    return retry;
  }

  /**
   * Where a batch goes when its attempts are exhausted.
   *
   * @return the handler, or {@code null} to fail the run
   */
  public @Nullable DeadLetterHandler deadLetter() {
    return deadLetter;
  }

  /** Equal to a policy with equal retry settings and the same dead-letter handler (identity). */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof FailurePolicy p
        && retry.equals(p.retry)
        && Objects.equals(deadLetter, p.deadLetter);
  }

  @Override
  public int hashCode() {
    return 31 * retry.hashCode() + Objects.hashCode(deadLetter);
  }

  /** The record format: {@code FailurePolicy[retry=Retry[...], deadLetter=null]}. */
  @Override
  public String toString() {
    return "FailurePolicy[retry=" + retry + ", deadLetter=" + deadLetter + "]";
  }
}
