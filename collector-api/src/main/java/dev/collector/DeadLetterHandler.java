package dev.collector;

/**
 * Receives a batch whose attempts are exhausted, so the run can move on without it. When it
 * returns, the batch counts as settled and the checkpoint may pass it; when it throws, the batch
 * fails the run as with fail-fast.
 */
@FunctionalInterface
public interface DeadLetterHandler {

  /**
   * Takes a failed batch, e.g. writes it to a dead-letter queue or a quarantine file.
   *
   * @param batch the batch
   * @param lastFailure the exception of its last attempt
   * @throws Exception if the batch could not be set aside; the run then fails
   */
  void deadLetter(Batch<?> batch, Throwable lastFailure) throws Exception;
}
