package dev.collector;

/**
 * A batch failed and the failure policy ended the run. Carries the failed batch's sequence, the
 * handler's exception as cause (failures of other batches are suppressed) and the checkpoint that
 * is durable: the next run resumes there, delivering the failed batch again.
 */
public final class BatchFailedException extends CollectorException {

  private static final long serialVersionUID = 1L;

  private final long sequence;
  private final Checkpoint committed;

  /**
   * Creates the exception.
   *
   * @param collector the collector's name
   * @param sequence the failed batch
   * @param cause the handler's exception
   * @param committed the durable checkpoint after the run ended
   */
  public BatchFailedException(
      String collector, long sequence, Throwable cause, Checkpoint committed) {
    super(
        "batch "
            + sequence
            + " of collector '"
            + collector
            + "' failed: "
            + cause
            + "; committed through sequence "
            + committed.sequence()
            + ", a new run resumes there and delivers batch "
            + sequence
            + " again",
        cause);
    this.sequence = sequence;
    this.committed = committed;
  }

  /**
   * The batch whose failure ended the run.
   *
   * @return its sequence
   */
  public long sequence() {
    return sequence;
  }

  /**
   * The durable checkpoint after the run ended.
   *
   * @return the checkpoint
   */
  public Checkpoint committed() {
    return committed;
  }
}
