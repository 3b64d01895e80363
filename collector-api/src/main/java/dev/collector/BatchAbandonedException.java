package dev.collector;

/**
 * The failure cause given to a pull-API delivery that was closed without being acknowledged or
 * failed. An abandoned batch is never acknowledged silently: it is failed, and with fail-fast it
 * ends the pull session.
 */
public final class BatchAbandonedException extends CollectorException {

  private static final long serialVersionUID = 1L;

  private final long sequence;

  /**
   * Creates the exception.
   *
   * @param collector the collector's name
   * @param sequence the abandoned batch
   */
  public BatchAbandonedException(String collector, long sequence) {
    super(
        "delivery of batch "
            + sequence
            + " of collector '"
            + collector
            + "' was closed without ack() or fail(); call ack() once the batch is handled,"
            + " or fail(cause) to hand it to the failure policy",
        null);
    this.sequence = sequence;
  }

  /**
   * The batch that was abandoned.
   *
   * @return its sequence
   */
  public long sequence() {
    return sequence;
  }
}
