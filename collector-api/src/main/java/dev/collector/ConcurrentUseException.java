package dev.collector;

/**
 * {@code process} was called while another run or a pull session is active on the same collector,
 * or {@code next()} while {@code process} runs. One collector serves one run at a time.
 */
public final class ConcurrentUseException extends MisuseException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param sequence the batch involved, or {@link MisuseException#NO_BATCH}
   * @param message the message, naming the batch and what to do
   */
  public ConcurrentUseException(long sequence, String message) {
    super(sequence, message);
  }
}
