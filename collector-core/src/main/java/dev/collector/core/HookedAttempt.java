package dev.collector.core;

import dev.collector.AttemptNotRunException;
import dev.collector.Batch;
import dev.collector.BatchHandler;
import dev.collector.HandlerContext;
import org.jspecify.annotations.Nullable;

/**
 * One handler attempt run through a {@link HandlerContext} hook. Invariant: the handler runs at
 * most once per attempt, on the thread that called the hook, while the hook runs; the attempt's
 * failure is the handler's own if it threw, else the hook's, else {@link AttemptNotRunException} if
 * the hook never ran it.
 */
final class HookedAttempt<T> implements HandlerContext.Attempt {

  /*
   * Used only when a hook is set (the default hook is bypassed by an identity check, so the
   * default costs nothing per attempt); then one small object per attempt. Its fields are
   * touched by the handler thread only: run() refuses any other thread, so no field is shared.
   */

  private static final int READY = 0;
  private static final int RUNNING = 1;
  private static final int DONE = 2;

  private final Batch<T> batch;
  private final BatchHandler<T> handler;
  private final String collector;
  private final Thread owner = Thread.currentThread();
  private int state = READY;
  private boolean hookReturned;
  private @Nullable Throwable handlerFailure;

  private HookedAttempt(Batch<T> batch, BatchHandler<T> handler, String collector) {
    this.batch = batch;
    this.handler = handler;
    this.collector = collector;
  }

  /**
   * Runs {@code hook} around one attempt of {@code handler}.
   *
   * @return the attempt's failure, or null if the handler ran and returned and the hook returned
   */
  static <T> @Nullable Throwable run(
      HandlerContext hook, Batch<T> batch, BatchHandler<T> handler, String collector) {
    HookedAttempt<T> attempt = new HookedAttempt<>(batch, handler, collector);
    Throwable hookFailure = null;
    try {
      hook.run(batch, attempt);
    } catch (Throwable t) {
      hookFailure = t;
    } finally {
      attempt.hookReturned = true;
    }
    Throwable handlerFailure = attempt.handlerFailure;
    if (handlerFailure != null) {
      // the handler's own failure decides (also whether it is the echo of a cancellation)
      if (hookFailure != null && hookFailure != handlerFailure) {
        handlerFailure.addSuppressed(hookFailure);
      }
      return handlerFailure;
    }
    if (hookFailure != null) {
      return hookFailure;
    }
    if (attempt.state != DONE) {
      return new AttemptNotRunException(
          batch.sequence(),
          "the handlerContext hook of collector '"
              + collector
              + "' returned without running"
              + " attempt "
              + batch.attempt()
              + " of batch "
              + batch.sequence()
              + ", so its"
              + " handler did not run; the attempt counts as failed. Call attempt.run() exactly"
              + " once in HandlerContext.run, and let what it throws propagate");
    }
    return null;
  }

  @Override
  public void run() throws Exception {
    if (Thread.currentThread() != owner || hookReturned || state != READY) {
      throw new IllegalStateException(
          "attempt "
              + batch.attempt()
              + " of batch "
              + batch.sequence()
              + " of collector '"
              + collector
              + "' "
              + (Thread.currentThread() != owner
                  ? "was run on another thread than the handler's ("
                      + Thread.currentThread()
                      + "); run it on the thread that called HandlerContext.run"
                  : hookReturned
                      ? "was run after its HandlerContext.run returned; run it inside the hook"
                      : "was run a second time by the handlerContext hook; the handler runs"
                          + " once per attempt (the failure policy retries it). Call"
                          + " attempt.run() exactly once"));
    }
    state = RUNNING;
    try {
      handler.handle(batch);
    } catch (Throwable t) {
      handlerFailure = t;
      throw t;
    } finally {
      state = DONE;
    }
  }
}
