package dev.collector.core;

import dev.collector.Batch;
import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Runs one batch of a {@code process} run to settlement on its own virtual thread: handler
 * attempts with backoff under the failure policy, then the dead-letter handler or a failure of
 * the run. Invariant: every batch ends exactly one way — settled (acknowledged or
 * dead-lettered), failed (recorded in the lifecycle), or given up because the run is
 * cancelling — and the thread always passes {@link HandlerExits#exit()}, whatever throws.
 */
final class BatchRunner<T> implements Runnable {

  /*
   * User code (handler, dead-letter handler) runs inside try blocks that catch Throwable. Our
   * own per-batch code (telemetry, logging) is guarded too: telemetry isolates listener
   * exceptions, logging never throws, and anything that still escapes (an Error such as
   * OutOfMemoryError, or a defect) fails the run for this batch in run()'s catch, so a batch is
   * never left running with nobody to settle it.
   *
   * Interrupts: the run interrupts handler threads only once it is CANCELLING (and the
   * watchdog, per attempt, for a timeout, under its handshake). An interrupt status a handler
   * left behind while the run is RUNNING is the handler's own business: it is cleared before
   * the next attempt or the dead-letter handler, and the failure counts like any other.
   */

  private final ProcessRun<T> run;
  private Batch<T> batch;
  private boolean settled;

  BatchRunner(ProcessRun<T> run, Batch<T> batch) {
    this.run = run;
    this.batch = batch;
  }

  @Override
  public void run() {
    long sequence = batch.sequence();
    try {
      settleUnderPolicy();
    } catch (Throwable t) {
      run.lifecycle().handlerFailed(sequence, t, null);
    } finally {
      if (!settled) {
        run.ring().stoppedRunning(sequence); // once settled, the slot may hold a newer batch
      }
      run.exits().exit();
    }
  }

  private void settleUnderPolicy() {
    RunContext<T> context = run.context();
    Lifecycle lifecycle = run.lifecycle();
    FailurePolicy policy = context.options().failurePolicy();
    long sequence = batch.sequence();
    Throwable failure;
    while (true) {
      if (lifecycle.isCancelling()) {
        return; // given up: stays unsettled, delivered again by the next run
      }
      failure = attempt();
      if (failure == null) {
        settle(false);
        return;
      }
      if (lifecycle.isCancelling() && Lifecycle.causedByInterrupt(failure)) {
        return; // the echo of our own cancellation
      }
      Thread.interrupted(); // not the run's interrupt: the next attempt starts clean
      if (batch.attempt() >= policy.retry().maxAttempts()) {
        break;
      }
      Duration backoff = policy.retry().delay(batch.attempt(), ThreadLocalRandom.current());
      if (RunContext.LOG.isLoggable(Level.DEBUG)) {
        RunContext.log(
            Level.DEBUG,
            "collector '" + context.name() + "': batch " + sequence + " attempt "
                + batch.attempt() + " failed, retrying in " + backoff.toMillis() + " ms: "
                + failure);
      }
      if (!backOff(backoff)) {
        return; // cancelled while backing off
      }
      context.telemetry().retried();
      batch = batch.nextAttempt();
    }
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter != null && !lifecycle.isCancelling()) {
      try {
        deadLetter.deadLetter(batch, failure);
      } catch (Throwable t) {
        if (!(lifecycle.isCancelling() && Lifecycle.causedByInterrupt(t))) {
          RunContext.log(
              Level.WARNING,
              "collector '" + context.name() + "': the dead-letter handler threw for batch "
                  + sequence + "; the run ends as with fail-fast",
              t);
          lifecycle.handlerFailed(sequence, t, failure);
        }
        return;
      }
      RunContext.log(
          Level.WARNING,
          "collector '" + context.name() + "': batch " + sequence + " dead-lettered after "
              + batch.attempt() + " attempt(s): " + failure);
      run.deadLettered();
      context.telemetry().deadLettered();
      settle(true);
      return;
    }
    if (!lifecycle.isCancelling()) {
      RunContext.log(
          Level.WARNING,
          "collector '" + context.name() + "': batch " + sequence + " failed after "
              + batch.attempt() + " attempt(s); the failure policy ends the run",
          failure);
    }
    lifecycle.handlerFailed(sequence, failure, null);
  }

  /** One handler attempt; returns its failure, or null. A timeout is a failure. */
  private @Nullable Throwable attempt() {
    long sequence = batch.sequence();
    Watchdog watchdog = run.timeouts();
    long started = System.nanoTime();
    run.ring().attemptStarted(sequence, started);
    if (watchdog != null) {
      watchdog.beginAttempt(sequence);
    }
    Throwable failure = null;
    try {
      run.handler().handle(batch);
    } catch (Throwable t) {
      failure = t;
    }
    boolean timedOut = watchdog != null && watchdog.endAttempt(sequence);
    long nanos = System.nanoTime() - started;
    run.context()
        .telemetry()
        .handled(
            sequence,
            batch.size(),
            nanos,
            timedOut ? Telemetry.TIMEOUT : failure == null ? Telemetry.SUCCESS : Telemetry.FAILURE);
    if (timedOut) {
      TimeoutException timeout =
          new TimeoutException(
              "batch " + sequence + " of collector '" + run.context().name() + "', attempt "
                  + batch.attempt() + ", ran longer than batchTimeout "
                  + run.context().options().batchTimeout());
      if (failure != null) {
        timeout.addSuppressed(failure);
      }
      return timeout;
    }
    return failure;
  }

  /** Waits out a retry backoff; false if the run started cancelling meanwhile. */
  private boolean backOff(Duration backoff) {
    try {
      Thread.sleep(backoff);
    } catch (InterruptedException e) {
      if (run.lifecycle().isCancelling()) {
        return false;
      }
      // not the run's interrupt: nothing to cancel
    }
    return !run.lifecycle().isCancelling();
  }

  private void settle(boolean deadLettered) {
    long sequence = batch.sequence();
    int size = batch.size();
    settled = true;
    if (run.ring().settle(sequence)) {
      run.committer().wake();
    }
    if (deadLettered) {
      return;
    }
    run.context().telemetry().acknowledged(size);
    if (RunContext.LOG.isLoggable(Level.DEBUG)) {
      RunContext.log(
          Level.DEBUG,
          "collector '" + run.context().name() + "': batch " + sequence + " handled (" + size
              + " records, attempt " + batch.attempt() + ")");
    }
  }
}
