package dev.collector;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Reads a sequenced source with bounded read-ahead and commits its checkpoint strictly in order.
 *
 * <p>Two ways to use it, one at a time:
 *
 * <ul>
 *   <li>{@link #process(int, BatchHandler)} (structured): runs a handler per batch on virtual
 *       threads, up to {@code depth} uncommitted batches, and returns when the source is
 *       exhausted or {@link #stop()} was called, after the final checkpoint is committed.
 *   <li>{@link #next()} (pull): hands out {@link Delivery} handles that the caller acknowledges,
 *       from its own threads; the window is {@link CollectorOptions#depth()}.
 * </ul>
 *
 * <p><b>Bounds.</b> At most {@code depth} batches are fetched but not yet committed (fetched,
 * running, or completed and waiting for an earlier one). After a crash at most {@code depth}
 * batches are delivered again.
 *
 * <p><b>Ordering and memory effects.</b> The checkpoint only moves forward, and only to the end
 * of a batch whose every predecessor was acknowledged. Actions in a handler (or before {@link
 * Delivery#ack()}) happen-before the store commit that covers the batch.
 *
 * <p><b>Threads and interrupts.</b> All methods are thread-safe. {@code process} and {@code
 * next} block and answer interrupts with {@link InterruptedException}; no thread the collector
 * started outlives {@code process} or {@link #close()}.
 *
 * <p><b>Epochs.</b> Each run (a {@code process} call, or a pull session from the first {@code
 * next()} until a failure ends it) is an epoch that starts at the committed checkpoint. A
 * delivery belongs to its collector and epoch; settling it after its epoch ended throws {@link
 * StaleDeliveryException} because that batch is delivered again by the next epoch.
 *
 * @param <T> the record type
 */
public interface Collector<T> extends AutoCloseable {

  /**
   * The collector's name, used in thread names, log lines and metric tags.
   *
   * @return the name from {@link CollectorOptions#name()}
   */
  String name();

  /**
   * Processes the source with {@code depth} batches of read-ahead until it is exhausted or
   * {@link #stop()} is called, running {@code handler} for each batch on its own virtual thread.
   *
   * <p>A handler failure stops fetching, interrupts the other handlers, commits the contiguous
   * acknowledged prefix and throws {@link BatchFailedException}. Interrupting the calling thread
   * cancels the run the same way and throws {@link InterruptedException} with the interrupt
   * status set. Every thread the call started has ended when it returns or throws, and the
   * final checkpoint is durable.
   *
   * <p>The collector can process again after the call returned or threw: the next run starts at
   * the committed checkpoint.
   *
   * @param depth how many batches may be fetched but not yet committed, 1 to {@link
   *     CollectorOptions#MAX_DEPTH}
   * @param handler the work per batch
   * @return what the run did
   * @throws IllegalArgumentException if {@code depth} is out of range
   * @throws ConcurrentUseException if a run or pull session is already active
   * @throws ReentrantCallException if called from one of this collector's handlers
   * @throws CollectorClosedException if the collector was closed
   * @throws BatchFailedException if a handler failed
   * @throws SourceException if the source could not be opened or read
   * @throws CheckpointException if a commit failed
   * @throws InterruptedException if the calling thread was interrupted
   */
  ProcessSummary process(int depth, BatchHandler<T> handler) throws InterruptedException;

  /**
   * Takes the next batch, waiting while {@link CollectorOptions#depth()} batches are
   * uncommitted or the source has nothing yet. The first call starts a pull session with a
   * background fetcher and committer.
   *
   * @return the next delivery, or {@code null} once the source is exhausted and every batch was
   *     delivered (then {@link #isExhausted()} is {@code true})
   * @throws BatchFailedException once, after a delivery of the session was failed; the call after
   *     that starts a new session at the committed checkpoint, delivering the failed batch again
   * @throws SourceException if the source failed (likewise once)
   * @throws CheckpointException if a commit failed (likewise once)
   * @throws ConcurrentUseException while {@link #process} runs
   * @throws ReentrantCallException if called from one of this collector's handlers
   * @throws CollectorClosedException if the collector was closed
   * @throws InterruptedException if interrupted while waiting
   */
  @Nullable Delivery<T> next() throws InterruptedException;

  /**
   * Like {@link #next()}, waiting at most {@code timeout}.
   *
   * @param timeout how long to wait at most
   * @return the next delivery, or {@code null} if none came in time or the source is exhausted
   *     (tell them apart with {@link #isExhausted()})
   * @throws InterruptedException if interrupted while waiting
   */
  @Nullable Delivery<T> next(Duration timeout) throws InterruptedException;

  /**
   * Like {@link #next()}, never waiting.
   *
   * @return the next delivery if one is fetched already, else {@code null} (tell "not yet" from
   *     "exhausted" with {@link #isExhausted()})
   */
  @Nullable Delivery<T> tryNext();

  /**
   * Whether the pull session has delivered every batch of an exhausted source.
   *
   * @return {@code true} once {@link #next()} would return {@code null} immediately
   */
  boolean isExhausted();

  /**
   * Waits until everything acknowledged so far, up to the first unacknowledged delivery, is
   * durably committed. Acknowledgements behind an unacknowledged delivery are not covered: they
   * cannot be committed before it.
   *
   * @return the committed checkpoint, covering at least the acknowledged prefix at the time of
   *     the call
   * @throws CheckpointException if the commit failed
   * @throws InterruptedException if interrupted while waiting
   */
  Checkpoint awaitCommitted() throws InterruptedException;

  /**
   * Asks the active {@link #process} run to stop gracefully: stop fetching, let running handlers
   * finish (bounded by {@link CollectorOptions#drainTimeout()}), commit, return. Does not wait.
   *
   * @return {@code true} if a run was active and is now stopping, {@code false} if no run was
   *     active (nothing happens then)
   */
  boolean stop();

  /**
   * A snapshot of the collector's counters.
   *
   * @return the current progress
   */
  Progress progress();

  /**
   * Ends the pull session, if any, commits its acknowledged prefix, and closes the collector.
   * Later calls throw {@link CollectorClosedException}; closing again does nothing. While a
   * {@link #process} run is active it is cancelled as by {@link #stop()} with a zero drain
   * timeout, and this call waits until it returned.
   *
   * @throws CheckpointException if the final commit failed
   */
  @Override
  void close();
}
