package dev.collector;

/** How the pull API treats acknowledgements that arrive out of sequence order. */
public enum AckOrdering {
  /**
   * Out-of-order acknowledgements are buffered; the checkpoint advances once the gap before them is
   * acknowledged. The default.
   */
  BUFFERED,
  /**
   * Each acknowledgement must be for the oldest unacknowledged delivery; any other is rejected with
   * {@link OutOfOrderAckException} and changes nothing. Failing a delivery is allowed in any order.
   */
  STRICT
}
