package dev.collector;

/**
 * A delivery was settled after the run (epoch) it came from ended, e.g. because another batch of it
 * failed. The batch is delivered again by the next epoch; settle that delivery instead.
 */
public final class StaleDeliveryException extends MisuseException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param sequence the batch involved, or {@link MisuseException#NO_BATCH}
   * @param message the message, naming the batch and what to do
   */
  public StaleDeliveryException(long sequence, String message) {
    super(sequence, message);
  }
}
