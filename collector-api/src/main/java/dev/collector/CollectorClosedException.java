package dev.collector;

/**
 * The collector was closed. Open a new collector on the same checkpoint store; unacknowledged
 * batches are delivered again.
 */
public final class CollectorClosedException extends MisuseException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param sequence the batch involved, or {@link MisuseException#NO_BATCH}
   * @param message the message, naming the batch and what to do
   */
  public CollectorClosedException(long sequence, String message) {
    super(sequence, message);
  }
}
