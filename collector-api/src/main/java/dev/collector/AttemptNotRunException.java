package dev.collector;

/**
 * A {@link HandlerContext} returned without calling {@link HandlerContext.Attempt#run()}: the
 * handler did not run, so the attempt fails with this exception and the {@link FailurePolicy}
 * applies. The message names the batch; fix the hook so that it runs the attempt exactly once.
 */
public final class AttemptNotRunException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  private final long sequence;

  /**
   * Creates the exception.
   *
   * @param sequence the batch whose attempt did not run
   * @param message the message, naming the batch and what to do
   */
  public AttemptNotRunException(long sequence, String message) {
    super(message);
    this.sequence = sequence;
  }

  /**
   * The batch whose attempt did not run.
   *
   * @return its sequence
   */
  public long sequence() {
    return sequence;
  }
}
