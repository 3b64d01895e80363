package dev.collector;

/**
 * Receives what a collector does, event by event: for metrics, tracing or logging of your own.
 * Register one with {@link Collector#listen(CollectorListener)}; the Micrometer binder ({@code
 * dev.collector.core.CollectorMetrics}) is built on this interface alone.
 *
 * <p>Every method has a no-op default, so implement only the events you need. Arguments are
 * primitives and enums: the collector allocates nothing to report an event. Durations are {@link
 * System#nanoTime()} differences in nanoseconds; {@code sequence} is the batch's sequence ({@link
 * Batch#sequence()}).
 *
 * <p><b>Threads.</b> Events come from the collector's own threads, concurrently: a handler's
 * virtual thread, the fetcher, the committer, a pull caller's thread. Each method says which. A
 * listener must therefore be thread-safe, and it runs on the hot path: keep it short and never
 * block (no I/O, no waiting for locks that user code holds). No event is called under a lock of the
 * collector.
 *
 * <p><b>A listener that throws.</b> The event is dropped for that listener (other listeners still
 * get it), the run goes on unchanged, and the first such failure of a collector is logged at
 * WARNING (once per collector). This holds for any {@link Throwable}, errors included (a {@link
 * NoSuchMethodError} from a library version mismatch, say), except a {@link VirtualMachineError}
 * (out of memory, stack overflow): that propagates, and the run fails as if its own code had thrown
 * it ({@link BatchFailedException} for an event on a handler thread).
 *
 * <p><b>Calling back.</b> A listener may call {@link Collector#listen}, {@link
 * Registration#close()}, {@link Collector#progress()} and {@link Collector#stop()}. It must not
 * call {@code process}, {@code next} or {@code close} of its collector: from the collector's own
 * threads those throw {@link ReentrantCallException}.
 */
public interface CollectorListener {

  /** How one handler attempt (or pull delivery) ended, as reported by {@link #handled}. */
  enum Outcome {
    /** The handler returned normally (or the delivery was acknowledged). */
    SUCCESS,
    /** The handler threw (or the delivery was failed). */
    FAILURE,
    /** The attempt ran longer than {@link CollectorOptions#batchTimeout()}. */
    TIMEOUT,
    /**
     * The attempt was interrupted because its own run was being cancelled (a failure elsewhere, an
     * interrupt of {@code process}, {@link Collector#close()}): not a failure of the batch, which
     * is delivered again by the next run.
     */
    CANCELLED
  }

  /**
   * A batch was read from the source. Called on the fetcher thread (the {@code process} run's owner
   * thread, or the pull session's fetcher) after the read returned, before the batch is handed out.
   *
   * @param sequence the batch's sequence
   * @param records how many records it holds
   * @param fetchNanos how long the read took
   */
  default void fetched(long sequence, int records, long fetchNanos) {}

  /**
   * The fetcher waited for a window slot: {@code depth} batches were uncommitted (head-of-line
   * blocking). Called on the fetcher thread once the wait ended.
   *
   * @param waitNanos how long it waited, at least 1
   */
  default void windowFull(long waitNanos) {}

  /**
   * A handler attempt ended ({@link Collector#process}), or a pull delivery was settled by {@link
   * Delivery#ack()} or {@link Delivery#fail}. Called once per attempt, on the handler's virtual
   * thread after the handler (and the {@link HandlerContext}) returned or threw, before the batch
   * is acknowledged, retried or dead-lettered; for a delivery, on the thread that settled it. For
   * {@code process}, {@code nanos} covers the {@link HandlerContext} and the attempt, as {@link
   * CollectorOptions#batchTimeout()} does; for a delivery, the time from delivery to settlement.
   *
   * @param sequence the batch's sequence
   * @param records how many records it holds
   * @param nanos how long the attempt took
   * @param outcome how it ended
   */
  default void handled(long sequence, int records, long nanos, Outcome outcome) {}

  /**
   * A batch was handled successfully and is about to be marked done (it is committed later, in
   * order). Called on the handler's virtual thread (for a delivery: the thread calling {@link
   * Delivery#ack()}) right after {@link #handled} with {@link Outcome#SUCCESS}, exactly once per
   * settled batch of a run.
   *
   * @param sequence the batch's sequence
   * @param records how many records it holds
   */
  default void acknowledged(long sequence, int records) {}

  /**
   * A failed batch is about to be attempted again under the {@link FailurePolicy}. Called on the
   * handler's virtual thread after the backoff, before the next attempt (for a delivery: on the
   * thread calling {@link Delivery#fail}, when it schedules the redelivery).
   *
   * @param sequence the batch's sequence
   */
  default void retried(long sequence) {}

  /**
   * The dead-letter handler took a batch that ran out of attempts; the batch counts as settled.
   * Called on the thread that ran the dead-letter handler, after it returned normally.
   *
   * @param sequence the batch's sequence
   */
  default void deadLettered(long sequence) {}

  /**
   * A checkpoint became durable. Called on the thread that committed it (the committer, or the
   * thread running a run's final commit or {@link Collector#close()}), after the store's commit
   * returned.
   *
   * @param checkpoint the sequence of the checkpoint now durable
   * @param batches how many batches it covers beyond the previous one
   * @param nanos how long the commit took, retries and their backoff included
   */
  default void committed(long checkpoint, long batches, long nanos) {}

  /**
   * A call was rejected as a misuse, just before the exception is thrown to its caller. Called on
   * the caller's thread.
   *
   * @param kind the class of the exception about to be thrown (a constant: nothing allocated)
   * @param sequence the batch involved, or {@link MisuseException#NO_BATCH}
   */
  default void misuse(Class<? extends MisuseException> kind, long sequence) {}

  /**
   * The collector was closed: the last event of every registration. Called once, on the thread
   * calling {@link Collector#close()}, after its final commit, never under a lock; the registration
   * is removed by then. An event that raced {@code close()} may still arrive after it. Every
   * registered listener is told, also when an earlier one threw; a {@link VirtualMachineError}
   * thrown here is rethrown by that {@code close()} after all were told, and the collector is
   * closed all the same (a racing or later {@code close()} returns normally).
   */
  default void closed() {}
}
