package dev.collector;

/**
 * A delivery was settled with the other outcome: {@code fail} after {@code ack}, or {@code ack}
 * after {@code fail} or abandonment.
 */
public final class ConflictingOutcomeException extends MisuseException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param sequence the batch involved, or {@link MisuseException#NO_BATCH}
   * @param message the message, naming the batch and what to do
   */
  public ConflictingOutcomeException(long sequence, String message) {
    super(sequence, message);
  }
}
