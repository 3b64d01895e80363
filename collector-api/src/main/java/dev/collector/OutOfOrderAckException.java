package dev.collector;

/**
 * In {@link AckOrdering#STRICT} mode, a delivery was acknowledged before an earlier one. Nothing
 * changed: acknowledge {@link #expected()} first, or use {@link AckOrdering#BUFFERED}.
 */
public final class OutOfOrderAckException extends MisuseException {

  private static final long serialVersionUID = 1L;

  private final long expected;

  /**
   * Creates the exception.
   *
   * @param given the sequence of the delivery that was acknowledged
   * @param expected the sequence of the oldest unacknowledged delivery
   * @param collector the collector's name
   */
  public OutOfOrderAckException(long given, long expected, String collector) {
    super(
        given,
        "collector '"
            + collector
            + "' uses STRICT ack ordering: got ack of batch "
            + given
            + " but batch "
            + expected
            + " is still unacknowledged; ack batch "
            + expected
            + " first, or use AckOrdering.BUFFERED to let acks complete out of order");
    this.expected = expected;
  }

  /**
   * The sequence that must be acknowledged next.
   *
   * @return the oldest unacknowledged sequence
   */
  public long expected() {
    return expected;
  }
}
