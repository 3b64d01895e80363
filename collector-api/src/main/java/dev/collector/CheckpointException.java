package dev.collector;

import org.jspecify.annotations.Nullable;

/**
 * The checkpoint store failed to load or commit. The message says which checkpoint is known to be
 * durable; the in-memory position never moved past it.
 */
public final class CheckpointException extends CollectorException {

  private static final long serialVersionUID = 1L;

  private final @Nullable Checkpoint durable;

  /**
   * Creates the exception.
   *
   * @param message what failed, naming the checkpoint
   * @param durable the checkpoint known to be durable, or {@code null} if unknown (a load failed)
   * @param cause the store's exception
   */
  public CheckpointException(String message, @Nullable Checkpoint durable, Throwable cause) {
    super(message, cause);
    this.durable = durable;
  }

  /**
   * The checkpoint known to be durable.
   *
   * @return it, or {@code null} if the store could not be read
   */
  public @Nullable Checkpoint durable() {
    return durable;
  }
}
