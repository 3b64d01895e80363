package dev.collector.core;

import dev.collector.Batch;
import dev.collector.CollectorListener.Outcome;
import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import dev.collector.HandlerContext;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Runs one batch of a {@code process} run to settlement on its own virtual thread: handler attempts
 * with backoff under the failure policy, then the dead-letter handler or a failure of the run.
 * Invariant: every batch ends exactly one way — settled (acknowledged or dead-lettered), failed
 * (recorded in the lifecycle), or given up because the run is cancelling — and the thread always
 * passes {@link HandlerExits#exit()}, whatever throws.
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
   *
   * A handler-context hook (CollectorOptions.handlerContext) wraps each attempt inside the
   * watchdog's window and the handled-event timing, so batchTimeout covers hook and attempt;
   * HookedAttempt decides the attempt's failure. The default hook is skipped by an identity
   * check: no allocation, no extra call per attempt.
   */

  private final ProcessRun<T> run;
  private final long sequence;
  private @Nullable Batch<T> current;
  private boolean settled;

  BatchRunner(ProcessRun<T> run, Batch<T> batch) {
    this.run = run;
    this.sequence = batch.sequence();
    this.current = batch;
  }

  @Override
  public void run() {
    try {
      settleUnderPolicy(batch());
    } catch (Throwable t) {
      // Our own code threw (an Error, a defect) before the batch settled: it fails like a
      // handler failure and is delivered again. Nothing in settle() can throw after the slot
      // is settled, so a committed batch is never reported as failed.
      run.lifecycle().handlerFailed(sequence, t, null);
    } finally {
      current = null; // the exit chain may keep this thread reachable: not its records (G11)
      if (!settled) {
        run.ring().stoppedRunning(sequence); // once settled, the slot may hold a newer batch
      }
      run.exits().exit();
    }
  }

  private Batch<T> batch() {
    Batch<T> b = current;
    if (b == null) {
      throw new IllegalStateException("batch " + sequence + " was already released");
    }
    return b;
  }

  private void settleUnderPolicy(Batch<T> first) {
    RunContext<T> context = run.context();
    Lifecycle lifecycle = run.lifecycle();
    FailurePolicy policy = context.options().failurePolicy();
    Batch<T> batch = first;
    Throwable failure;
    while (true) {
      if (lifecycle.isCancelling()) {
        return; // given up: stays unsettled, delivered again by the next run
      }
      failure = attempt(batch);
      if (failure == null) {
        settle(batch, false);
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
            "collector '"
                + context.name()
                + "': batch "
                + sequence
                + " attempt "
                + batch.attempt()
                + " failed, retrying in "
                + backoff.toMillis()
                + " ms: "
                + failure);
      }
      if (!backOff(backoff)) {
        return; // cancelled while backing off
      }
      context.telemetry().retried(sequence);
      batch = batch.nextAttempt();
      current = batch;
    }
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter != null && !lifecycle.isCancelling()) {
      try {
        deadLetter.deadLetter(batch, failure);
      } catch (Throwable t) {
        if (!(lifecycle.isCancelling() && Lifecycle.causedByInterrupt(t))) {
          RunContext.log(
              Level.WARNING,
              "collector '"
                  + context.name()
                  + "': the dead-letter handler threw for batch "
                  + sequence
                  + "; the run ends as with fail-fast",
              t);
          lifecycle.handlerFailed(sequence, t, failure);
        }
        return;
      }
      RunContext.log(
          Level.WARNING,
          "collector '"
              + context.name()
              + "': batch "
              + sequence
              + " dead-lettered after "
              + batch.attempt()
              + " attempt(s): "
              + failure);
      run.deadLettered();
      context.telemetry().deadLettered(sequence);
      settle(batch, true);
      return;
    }
    if (lifecycle.isCancelling()) {
      if (!Lifecycle.causedByInterrupt(failure)) {
        RunContext.log(
            Level.INFO,
            "collector '"
                + context.name()
                + "': batch "
                + sequence
                + " failed while the run"
                + " was being cancelled; it stays uncommitted and is delivered again: "
                + failure);
      }
    } else {
      RunContext.log(
          Level.WARNING,
          "collector '"
              + context.name()
              + "': batch "
              + sequence
              + " failed after "
              + batch.attempt()
              + " attempt(s); the failure policy ends the run",
          failure);
    }
    lifecycle.handlerFailed(sequence, failure, null);
  }

  /**
   * One handler attempt, inside the handler-context hook; returns its failure, or null. A timeout
   * is a failure. The watchdog and the timing cover the hook and the attempt.
   */
  private @Nullable Throwable attempt(Batch<T> batch) {
    Watchdog watchdog = run.timeouts();
    Telemetry.@Nullable BatchHandledEvent event = Telemetry.beginHandled();
    long started = System.nanoTime();
    run.ring().attemptStarted(sequence, started);
    if (watchdog != null) {
      watchdog.beginAttempt(sequence);
    }
    HandlerContext hook = run.context().options().handlerContext();
    Throwable failure = null;
    try {
      if (hook == HandlerContext.NONE) {
        run.handler().handle(batch);
      } else {
        failure = HookedAttempt.run(hook, batch, run.handler(), run.context().name());
      }
    } catch (Throwable t) {
      failure = t;
    }
    boolean timedOut = watchdog != null && watchdog.endAttempt(sequence);
    long nanos = System.nanoTime() - started;
    run.context()
        .telemetry()
        .handled(
            event,
            sequence,
            batch.size(),
            nanos,
            timedOut
                ? Outcome.TIMEOUT
                : failure == null
                    ? Outcome.SUCCESS
                    : run.lifecycle().isCancelling() && Lifecycle.causedByInterrupt(failure)
                        ? Outcome.CANCELLED // the echo of our own cancellation: no failure
                        : Outcome.FAILURE);
    if (timedOut) {
      TimeoutException timeout =
          new TimeoutException(
              "batch "
                  + sequence
                  + " of collector '"
                  + run.context().name()
                  + "', attempt "
                  + batch.attempt()
                  + ", ran longer than batchTimeout "
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
    // The run sets CANCELLING before it interrupts: if the interrupt status we just cleared
    // was the run's, this check sees it; if the interrupt comes later, it ends the sleep.
    if (run.lifecycle().isCancelling()) {
      return false;
    }
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

  /** Telemetry first: once the slot is settled nothing may throw for this batch. */
  private void settle(Batch<T> batch, boolean deadLettered) {
    if (!deadLettered) {
      run.context().telemetry().acknowledged(sequence, batch.size());
      if (RunContext.LOG.isLoggable(Level.DEBUG)) {
        RunContext.log(
            Level.DEBUG,
            "collector '"
                + run.context().name()
                + "': batch "
                + sequence
                + " handled ("
                + batch.size()
                + " records, attempt "
                + batch.attempt()
                + ")");
      }
    }
    settled = true;
    if (run.ring().settle(sequence)) {
      run.frontierMoved();
    }
  }
}
