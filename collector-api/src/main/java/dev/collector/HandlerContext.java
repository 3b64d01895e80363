package dev.collector;

/**
 * Wraps every handler attempt of {@link Collector#process}, on the handler's own virtual thread:
 * the place to set up per-batch context (an MDC, a tracing span, a {@code ScopedValue} binding)
 * around the handler. Set it with {@link CollectorOptions.Builder#handlerContext}.
 *
 * {@snippet class=dev.collector.core.JavadocExamplesTest region=handlerContextMdc}
 *
 * <p><b>Contract.</b> {@link #run} must call {@link Attempt#run() attempt.run()} exactly once, on
 * the thread that called it, and should let what it throws propagate. It is called for each
 * attempt, retries included ({@link Batch#attempt()} tells which), never for the dead-letter
 * handler.
 *
 * <ul>
 *   <li><b>The hook throws</b> (before or after the attempt): the attempt fails like a handler
 *       failure, and the {@link FailurePolicy} settles it (retry, dead-letter or fail the run). If
 *       the handler itself threw, that failure is the attempt's failure, whatever the hook then
 *       threw or returned (a different exception from the hook is added to it as suppressed).
 *   <li><b>The hook returns without running the attempt:</b> the attempt fails with {@link
 *       AttemptNotRunException} naming the batch; the failure policy applies.
 *   <li><b>The hook runs it twice</b>, calls it on another thread, or after it returned: that call
 *       throws {@link IllegalStateException} naming the batch, and the handler does not run again;
 *       if the hook lets it propagate, the attempt fails with it.
 *   <li><b>Interrupts and timeouts:</b> {@link CollectorOptions#batchTimeout()} covers the hook and
 *       the attempt together, and so does the handler duration reported to listeners. A timeout or
 *       a cancellation of the run interrupts the handler thread wherever it is, in the hook or in
 *       the handler; the hook must let the interrupt end it like a handler does.
 * </ul>
 *
 * <p>The pull API ({@link Collector#next()}, {@link Delivery}) runs no hook: the caller works on
 * its own thread, and sets up its context itself.
 */
@FunctionalInterface
public interface HandlerContext {

  /** The default: runs the attempt and nothing else. */
  HandlerContext NONE = (batch, attempt) -> attempt.run();

  /**
   * Runs one handler attempt inside the context this hook sets up.
   *
   * @param batch the batch, as the handler receives it
   * @param attempt runs the handler once
   * @throws Exception to fail the attempt (the failure policy applies)
   */
  void run(Batch<?> batch, Attempt attempt) throws Exception;

  /** One handler attempt, to be run exactly once by {@link HandlerContext#run}. */
  interface Attempt {

    /**
     * Runs the handler on the current thread.
     *
     * @throws Exception what the handler threw
     * @throws IllegalStateException naming the batch, if called a second time, on another thread
     *     than the one the hook was called on, or after the hook returned
     */
    void run() throws Exception;
  }
}
