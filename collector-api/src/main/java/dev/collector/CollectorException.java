package dev.collector;

import org.jspecify.annotations.Nullable;

/**
 * The root of everything a collector throws on its own account. Sealed: a caller can switch over
 * the two families, {@link MisuseException} (the caller did something wrong; nothing changed) and
 * run failures ({@link BatchFailedException}, {@link SourceException}, {@link CheckpointException},
 * {@link BatchAbandonedException}).
 */
public abstract sealed class CollectorException extends RuntimeException
    permits MisuseException,
        BatchFailedException,
        BatchAbandonedException,
        SourceException,
        CheckpointException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message the message, naming the batch and what to do
   * @param cause the cause, if any
   */
  protected CollectorException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
