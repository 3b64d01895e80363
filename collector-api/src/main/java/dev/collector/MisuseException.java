package dev.collector;

/**
 * The caller used the API wrongly. Thrown before anything changed: no batch is lost and the
 * committed checkpoint did not move. The message names the batch (where there is one) and what to
 * do instead.
 */
public abstract sealed class MisuseException extends CollectorException
    permits ConflictingOutcomeException,
        StaleDeliveryException,
        CollectorClosedException,
        OutOfOrderAckException,
        ReentrantCallException,
        ConcurrentUseException {

  private static final long serialVersionUID = 1L;

  /** Sequence value for a misuse that involves no batch. */
  public static final long NO_BATCH = -1;

  private final long sequence;

  /**
   * Creates the exception.
   *
   * @param sequence the batch involved, or {@link #NO_BATCH}
   * @param message the message, naming the batch and what to do
   */
  protected MisuseException(long sequence, String message) {
    super(message, null);
    this.sequence = sequence;
  }

  /**
   * The batch the misuse was about.
   *
   * @return its sequence, or {@link #NO_BATCH}
   */
  public long sequence() {
    return sequence;
  }
}
