package dev.collector;

/**
 * A batch handed out by {@link Collector#next()}: the handle the caller settles, never a raw
 * sequence number.
 *
 * <p>Settle it exactly once with {@link #ack()} or {@link #fail(Throwable)}. Settling again with
 * the same outcome is harmless and returns {@code false}; the other outcome throws {@link
 * ConflictingOutcomeException}. {@link #close()} on a delivery that was neither acknowledged nor
 * failed fails it with {@link BatchAbandonedException} — a forgotten ack is never a silent ack.
 *
 * <p>Thread-safe: a delivery may be settled from any thread. Actions of the thread that calls
 * {@code ack()} before the call happen-before the commit that covers the batch.
 *
 * <p><b>Races.</b> Exactly one outcome wins, whatever calls race on one delivery: of concurrent
 * {@code ack()} calls one returns {@code true}, the others {@code false}; of concurrent {@code
 * fail} calls one returns {@code true} (and runs the failure policy, the dead-letter handler at
 * most once), the others {@code false}; between {@code ack()} and {@code fail}, the loser throws
 * {@link ConflictingOutcomeException} — also an {@code ack()} that comes while {@code fail} is
 * still inside the dead-letter handler. Against {@link Collector#close()}, a settle either counts
 * (and is covered by close's final commit) or throws {@link CollectorClosedException}. After the
 * pull session ended (a failure was reported, or the collector closed), settling with a new outcome
 * throws; repeating the outcome this delivery already has returns {@code false}.
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
   * @return {@code true} if this call acknowledged it, {@code false} if it was already acknowledged
   * @throws ConflictingOutcomeException if the delivery was already failed or abandoned
   * @throws OutOfOrderAckException in {@link AckOrdering#STRICT} mode, if an earlier delivery is
   *     still unacknowledged
   * @throws StaleDeliveryException if the run the delivery came from has ended (it failed); the
   *     batch will be delivered again
   * @throws CollectorClosedException if the collector was closed
   */
  boolean ack();

  /**
   * Hands the batch to the failure policy. With attempts left the batch is delivered again after
   * the retry backoff (a new delivery, {@code attempt + 1}). Otherwise, with a dead-letter handler,
   * it runs on this thread and the batch counts as settled when it returns; without one (fail-fast)
   * the pull session fails: fetching stops, the next call to {@link Collector#next()} reports the
   * failure, and nothing past the acknowledged prefix is committed. Other deliveries of a failed
   * session may still be acknowledged until then.
   *
   * <p><b>User code that throws.</b> A dead-letter handler that throws fails the session as
   * fail-fast does; this call still returns {@code true}, and {@code next()} throws {@link
   * BatchFailedException} with the handler's exception as cause. If the session ended while the
   * dead-letter handler ran, this call throws {@link StaleDeliveryException}: the batch will be
   * delivered (and may be dead-lettered) again.
   *
   * @param cause why the batch failed
   * @return {@code true} if this call failed it, {@code false} if it was already failed
   * @throws ConflictingOutcomeException if the delivery was already acknowledged
   * @throws StaleDeliveryException if the run the delivery came from has already ended
   * @throws CollectorClosedException if the collector was closed
   * @throws NullPointerException if {@code cause} is null
   */
  boolean fail(Throwable cause);

  /**
   * Fails the batch with {@link BatchAbandonedException} if it was neither acknowledged nor failed;
   * does nothing otherwise. Also does nothing if the collector is closed or the run has ended (the
   * batch is then redelivered anyway). Never throws a {@link MisuseException}: if another thread
   * settles the delivery meanwhile, that outcome stands.
   */
  @Override
  void close();
}
