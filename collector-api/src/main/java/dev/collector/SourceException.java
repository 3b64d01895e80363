package dev.collector;

/**
 * The source could not be opened or read. The committed checkpoint is intact; a new run resumes
 * there.
 */
public final class SourceException extends CollectorException {

  private static final long serialVersionUID = 1L;

  private final long sequence;

  /**
   * Creates the exception.
   *
   * @param collector the collector's name
   * @param sequence the sequence of the batch that was being fetched
   * @param committed the durable checkpoint
   * @param cause the source's exception
   */
  public SourceException(String collector, long sequence, Checkpoint committed, Throwable cause) {
    super(
        "collector '"
            + collector
            + "' could not fetch batch "
            + sequence
            + ": "
            + cause
            + "; committed through sequence "
            + committed.sequence()
            + ", a new run resumes there once the source is readable",
        cause);
    this.sequence = sequence;
  }

  /**
   * The batch that was being fetched.
   *
   * @return its sequence
   */
  public long sequence() {
    return sequence;
  }
}
