package dev.collector;

/**
 * The work {@link Collector#process} runs for each batch, on a virtual thread of its own.
 *
 * <p>Returning normally acknowledges the batch; throwing hands it to the failure policy. A handler
 * must answer an interrupt (the run was cancelled) by ending soon, typically by letting {@link
 * InterruptedException} propagate.
 *
 * @param <T> the record type
 */
@FunctionalInterface
public interface BatchHandler<T> {

  /**
   * Handles one batch.
   *
   * @param batch the batch
   * @throws Exception to fail the batch
   */
  void handle(Batch<T> batch) throws Exception;
}
