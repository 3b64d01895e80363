package dev.collector;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a failed batch is settled: retried up to {@link Retry#maxAttempts()}, then either handed
 * to a {@link DeadLetterHandler} (and the run goes on) or failing the run (fail-fast: stop
 * fetching, interrupt the other handlers, commit the acknowledged prefix, throw {@link
 * BatchFailedException}).
 *
 * {@snippet class=dev.collector.core.JavadocExamplesTest region=failurePolicy}
 *
 * @param retry attempts per batch and the backoff between them
 * @param deadLetter where a batch goes when its attempts are exhausted, or {@code null} to fail
 *     the run
 */
public record FailurePolicy(Retry retry, @Nullable DeadLetterHandler deadLetter) {

  /** Validates the components. */
  public FailurePolicy {
    Objects.requireNonNull(retry, "retry");
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
   */
  public static FailurePolicy retry(Retry retry) {
    return new FailurePolicy(retry, null);
  }

  /**
   * This policy's retries, then the dead-letter handler instead of failing the run.
   *
   * @param handler where exhausted batches go
   * @return the new policy
   */
  public FailurePolicy thenDeadLetter(DeadLetterHandler handler) {
    return new FailurePolicy(retry, Objects.requireNonNull(handler, "handler"));
  }
}
