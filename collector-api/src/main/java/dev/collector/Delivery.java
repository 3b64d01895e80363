package dev.collector;

/**
 * A batch handed out by {@link Collector#next()}: the handle the caller settles, never a raw
 * sequence number.
 *
 * <p>Settle it exactly once with {@link #ack()} or {@link #fail(Throwable)}. Settling again
 * with the same outcome is harmless and returns {@code false}; the other outcome throws {@link
 * ConflictingOutcomeException}. {@link #close()} on a delivery that was neither acknowledged nor
 * failed fails it with {@link BatchAbandonedException} — a forgotten ack is never a silent ack.
 *
 * <p>Thread-safe: a delivery may be settled from any thread. Actions of the thread that calls
 * {@code ack()} before the call happen-before the commit that covers the batch.
 *
 * @param <T> the record type
 */
public interface Delivery<T> extends AutoCloseable {

  /**
   * The batch this delivery carries.
   *
   * @return the batch
   */
  Batch<T> batch();

  /**
   * Acknowledges the batch: it was handled and may be committed once every earlier batch is.
   *
   * @return {@code true} if this call acknowledged it, {@code false} if it was already
   *     acknowledged
   * @throws ConflictingOutcomeException if the delivery was already failed or abandoned
   * @throws OutOfOrderAckException in {@link AckOrdering#STRICT} mode, if an earlier delivery is
   *     still unacknowledged
   * @throws StaleDeliveryException if the run the delivery came from has ended (it failed); the
   *     batch will be delivered again
   * @throws CollectorClosedException if the collector was closed
   */
  boolean ack();

  /**
   * Hands the batch to the failure policy. With the default fail-fast policy the current pull
   * session ends: nothing after the acknowledged prefix is committed and the next call to
   * {@link Collector#next()} reports the failure.
   *
   * @param cause why the batch failed
   * @return {@code true} if this call failed it, {@code false} if it was already failed
   * @throws ConflictingOutcomeException if the delivery was already acknowledged
   * @throws StaleDeliveryException if the run the delivery came from has already ended
   * @throws CollectorClosedException if the collector was closed
   */
  boolean fail(Throwable cause);

  /**
   * Fails the batch with {@link BatchAbandonedException} if it was neither acknowledged nor
   * failed; does nothing otherwise. Also does nothing if the collector is closed or the run
   * has ended (the batch is then redelivered anyway).
   */
  @Override
  void close();
}
