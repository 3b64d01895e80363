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
 *       threads, up to {@code depth} uncommitted batches, and returns when the source is exhausted
 *       or {@link #stop()} was called, after the final checkpoint is committed.
 *   <li>{@link #next()} (pull): hands out {@link Delivery} handles that the caller acknowledges,
 *       from its own threads; the window is {@link CollectorOptions#depth()}.
 * </ul>
 *
 * <p><b>Bounds.</b> At most {@code depth} batches are fetched but not yet committed (fetched,
 * running, or completed and waiting for an earlier one). After a crash at most {@code depth}
 * batches are delivered again.
 *
 * <p><b>Ordering and memory effects.</b> The checkpoint only moves forward, and only to the end of
 * a batch whose every predecessor was acknowledged. Actions in a handler (or before {@link
 * Delivery#ack()}) happen-before the store commit that covers the batch.
 *
 * <p><b>Threads and interrupts.</b> All methods are thread-safe. {@code process} and {@code next}
 * block and answer interrupts with {@link InterruptedException}; no thread the collector started
 * outlives {@code process} or {@link #close()}. {@link #progress()}, {@link #stop()}, {@link
 * #name()} and {@link #isExhausted()} never block.
 *
 * <p><b>Races and user code.</b> Each method says what happens when it races the others and when
 * user code it calls (handler, {@link HandlerContext} hook, dead-letter handler, source, store,
 * {@link CollectorListener}) throws. In short: a collector serves one run at a time ({@link
 * ConcurrentUseException} otherwise); a handler may not call {@code process}, {@code next} or
 * {@code close} on its own collector ({@link ReentrantCallException}); a failure of user code ends
 * the run with the exception of its family, naming the durable checkpoint, except a listener's
 * (other than a {@link VirtualMachineError}), which only loses its event; nothing that races or
 * throws ever moves the committed checkpoint past a batch that was not settled.
 *
 * <p><b>Epochs.</b> Each run (a {@code process} call, or a pull session from the first {@code
 * next()} until a failure ends it) is an epoch that starts at the committed checkpoint. A delivery
 * belongs to its collector and epoch; settling it after its epoch ended throws {@link
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
   * Processes the source with {@code depth} batches of read-ahead until it is exhausted or {@link
   * #stop()} is called, running {@code handler} for each batch on its own virtual thread.
   *
   * <p>A handler failure stops fetching, interrupts the other handlers, commits the contiguous
   * acknowledged prefix and throws {@link BatchFailedException}. Interrupting the calling thread
   * cancels the run the same way and throws {@link InterruptedException} with the interrupt status
   * set. Every thread the call started has ended when it returns or throws, and the final
   * checkpoint is durable.
   *
   * <p>The collector can process again after the call returned or threw: the next run starts at the
   * committed checkpoint.
   *
   * <p><b>Races.</b> While it runs, another {@code process} or {@link #next()} throws {@link
   * ConcurrentUseException}; {@link #stop()} makes it return a summary with {@link
   * ProcessSummary#stopped()} set; {@link #close()} stops it with a zero drain timeout and waits
   * for it to return (the summary then says {@code stopped}); {@link #progress()} never waits for
   * it. An interrupt of the calling thread cancels the run; an interrupt that arrives during the
   * final commit does not cancel that commit: the call throws {@link InterruptedException} after
   * it, naming the durable checkpoint. Calling {@code process}, {@code next} or {@code close} from
   * one of this run's handlers throws {@link ReentrantCallException} (it would wait for itself);
   * {@code stop} and {@code progress} are fine there.
   *
   * <p><b>User code that throws.</b> The handler: settled by the {@link FailurePolicy}. The
   * dead-letter handler: the run fails as with fail-fast, {@link BatchFailedException} with its
   * exception as cause and the batch's own failure as suppressed. The source ({@code open}, {@code
   * next}): retried per {@link CollectorOptions#fetchRetry()}, then {@link SourceException}. The
   * store's {@code commit}: retried per {@link CollectorOptions#commitRetry()}, then {@link
   * CheckpointException} naming the durable checkpoint — also for the final commit, which is never
   * dropped. A {@link CollectorListener} that throws (anything but a {@link VirtualMachineError}):
   * its event is dropped and the failure logged once; the run goes on. The {@link
   * CollectorOptions#handlerContext()} hook: as the handler (see {@link HandlerContext}). An {@code
   * Error} from the collector's own per-batch code fails the run like a handler failure. Later
   * failures are attached to the thrown exception as suppressed; failures that are the echo of the
   * run's own cancellation (interrupted handlers) are not.
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
   * Takes the next batch, waiting while {@link CollectorOptions#depth()} batches are uncommitted,
   * {@link CollectorOptions#concurrency()} deliveries are unsettled, or the source has nothing yet.
   * The first call starts a pull session with a background fetcher and committer. Due redeliveries
   * (a failed delivery with attempts left) come before new batches.
   *
   * <p><b>Races.</b> Concurrent callers each get a different delivery; every waiter, timed or not,
   * is woken when a batch or a due redelivery is there. A {@link #close()} wakes waiting callers,
   * which throw {@link CollectorClosedException}. When the session failed, exactly one caller
   * throws the failure; the others, and every later call, continue on a new session that starts at
   * the durable checkpoint.
   *
   * <p><b>User code that throws.</b> The source: retried, then this call throws {@link
   * SourceException} once. The store: retried, then {@link CheckpointException} once. A dead-letter
   * handler run by {@link Delivery#fail} that throws: {@link BatchFailedException} once.
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
   * Waits until everything acknowledged so far, up to the first unacknowledged delivery, is durably
   * committed. Acknowledgements behind an unacknowledged delivery are not covered: they cannot be
   * committed before it.
   *
   * <p><b>Races.</b> Racing {@link #close()}, it returns once close's final commit covers the
   * acknowledged prefix (never a checkpoint below it), or throws {@link CheckpointException} if
   * that commit failed. During a {@link #process} run it waits until the batches settled at the
   * time of the call are committed (or the run ended). Without a pull session (none started, or it
   * ended: closed, or its failure was reported by {@link #next()}) it returns the committed
   * checkpoint at once: the acknowledgements of an ended session that were not committed are void,
   * and their batches are delivered again.
   *
   * @return the committed checkpoint, covering at least the acknowledged prefix at the time of the
   *     call
   * @throws CheckpointException if the commit failed
   * @throws InterruptedException if interrupted while waiting
   */
  Checkpoint awaitCommitted() throws InterruptedException;

  /**
   * Asks the active {@link #process} run to stop gracefully: stop fetching, let running handlers
   * finish (bounded by {@link CollectorOptions#drainTimeout()}), commit, return. Does not wait.
   *
   * <p><b>Races.</b> Concurrent calls, and repeated calls, all return {@code true} while the run is
   * active; a blocked fetch is interrupted. May be called from a handler. Does nothing to a pull
   * session (use {@link #close()}).
   *
   * @return {@code true} if a {@code process} run was active and had not yet begun its final commit
   *     (it is now stopping, or already ending), {@code false} otherwise (nothing happens then)
   */
  boolean stop();

  /**
   * A snapshot of the collector's counters. Never blocks and takes no lock the run uses: safe to
   * call from handlers, stores and metric scrapes, also while {@link #close()} waits for a slow
   * final commit. The numbers are read one by one while the run goes on, so they describe slightly
   * different instants; {@code committed <= acknowledged <= fetched} always holds.
   *
   * @return the current progress
   */
  Progress progress();

  /**
   * Registers a listener for this collector's events (see {@link CollectorListener} for which
   * thread calls what, and what happens when a listener throws). Never blocks on the collector's
   * work and takes no lock a run holds while it works.
   *
   * <p><b>Races.</b> Called while a run is active, the listener gets every event that starts after
   * this call returned (an event already being reported may not reach it). Closing the returned
   * registration stops its events: none starts after {@link Registration#close()} returned, one in
   * progress may finish. Registering the same listener twice registers it twice: it gets each event
   * twice, and each registration removes one. Racing {@link #close()}, either the listener is
   * registered and its {@link CollectorListener#closed()} is called once, or this call throws
   * {@link CollectorClosedException}. From inside a listener callback it works the same: the new
   * listener gets the events that start after it returned, not the one being reported (except from
   * {@link CollectorListener#closed()}, where the collector is closed and it throws).
   *
   * @param listener the listener
   * @return its registration; close it to stop the events
   * @throws CollectorClosedException if the collector was closed (its listeners were told {@link
   *     CollectorListener#closed()})
   * @throws NullPointerException if {@code listener} is null
   */
  Registration listen(CollectorListener listener);

  /**
   * Ends the pull session, if any, commits its acknowledged prefix, and closes the collector. Later
   * calls throw {@link CollectorClosedException}. While a {@link #process} run is active it is
   * stopped as by {@link #stop()} with a zero drain timeout, and this call waits until it returned.
   *
   * <p><b>Races.</b> An {@link Delivery#ack()} racing {@code close()} either returns {@code true}
   * and is covered by the final commit, or throws {@link CollectorClosedException} (the batch is
   * delivered again by the next collector). Callers waiting in {@link #next()} throw {@link
   * CollectorClosedException}. A second {@code close()}, concurrent or later, waits until the first
   * one finished and then returns without throwing. Calling it from one of the collector's own
   * handlers throws {@link ReentrantCallException}.
   *
   * @throws CheckpointException if the final commit of the pull session failed; the exception names
   *     the durable checkpoint
   * @throws ReentrantCallException if called from one of this collector's handlers
   */
  @Override
  void close();
}
