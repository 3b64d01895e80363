package dev.collector;

/**
 * A handler called {@code next()} or {@code process} on its own collector: it would wait for a
 * window slot that only its own return can free.
 */
public final class ReentrantCallException extends MisuseException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param sequence the batch involved, or {@link MisuseException#NO_BATCH}
   * @param message the message, naming the batch and what to do
   */
  public ReentrantCallException(long sequence, String message) {
    super(sequence, message);
  }
}
