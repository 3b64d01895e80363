package dev.collector.kafka;

import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/**
 * Runs one unit through the failure policy on a handler thread -- attempts, backoff, dead letter
 * -- and settles it in the {@link Window} exactly once.
 */
final class Attempts {

  /*
   * Invariant: every unit taken is settled exactly once (Window.complete) before settle()
   * returns, whatever the handler, the policy or the dead-letter handler throws (an Error too):
   * a unit is never left RUNNING, so no partition stalls silently.
   *
   * Who cancelled is decided by the run, never by the thread's interrupt status: the run sets its
   * cancellation flag (cancel, stop past the drain bound, close) or marks the partition stopped
   * (revoke, lost) BEFORE it interrupts a handler thread, so "the run ended the unit" is
   * `cancelled || window.isStopped(unit)`. Such a unit ends ABORTED (a gap, delivered again by
   * the partition's next epoch). Anything else that ends an attempt -- an exception, an Error, an
   * InterruptedException the handler threw on its own, an interrupt status it left behind -- is
   * the handler's failure and goes to the policy. An interrupt an attempt leaves is cleared
   * before the backoff and before the next attempt (or the dead-letter handler); a cancellation
   * arriving after that clearing is seen through the flag, which is read after clearing.
   * A record waiting in a retry backoff counts as running: stop()'s drain waits for it up to the
   * drain bound, then the interrupt ends the sleep and the flag makes it ABORTED.
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  private final String name;
  private final Window window;
  private final UnitHandler handler;
  private final FailurePolicy policy;
  private final BooleanSupplier cancelled;

  Attempts(String name, Window window, UnitHandler handler, FailurePolicy policy,
      BooleanSupplier cancelled) {
    this.name = name;
    this.window = window;
    this.handler = handler;
    this.policy = policy;
    this.cancelled = cancelled;
  }

  /** Runs the unit's attempts and settles it; never throws. */
  void settle(WorkUnit unit) {
    try {
      attempts(unit); // settles the unit as its last step, nothing after that can throw
    } catch (Throwable t) { // the policy itself threw (a retry delay, say): fail, never stall
      window.complete(unit, false, false, runEnded(unit) ? null : t);
    }
  }

  private void attempts(WorkUnit unit) {
    if (unit.poison != null) { // unreadable (PoisonPill): never given to the user's handler
      deadLetter(unit, unit.poison, 1);
      return;
    }
    Throwable last;
    int attempt = 1;
    while (true) {
      try {
        handler.handle(unit, attempt);
        window.complete(unit, true, false, null);
        return;
      } catch (Throwable t) { // an Error fails the unit like an exception: it is never acked
        last = t;
      }
      Thread.interrupted(); // the attempt's own interrupt, if any; the run's is in the flag
      if (runEnded(unit)) {
        window.complete(unit, false, false, null);
        return;
      }
      if (attempt >= policy.retry().maxAttempts()) {
        break;
      }
      Duration delay = policy.retry().delay(attempt, ThreadLocalRandom.current());
      try {
        Thread.sleep(delay);
      } catch (InterruptedException e) {
        // the run's (checked just below), or a stray one: then retry now
      }
      if (runEnded(unit)) {
        window.complete(unit, false, false, null); // cancelled while backing off
        return;
      }
      attempt++;
    }
    deadLetter(unit, last, attempt);
  }

  private void deadLetter(WorkUnit unit, Throwable last, int attempt) {
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter == null) {
      window.complete(unit, false, false, last);
      return;
    }
    Throwable dlqFailure;
    try {
      deadLetter.deadLetter(handler.batch(unit, attempt), last);
      LOG.log(Level.WARNING, "{0}: dead-lettered {1} after {2} attempts: {3}",
          name, unit, attempt, last.toString());
      window.complete(unit, true, true, null);
      return;
    } catch (Throwable t) {
      dlqFailure = t;
    }
    Thread.interrupted(); // as after an attempt
    if (runEnded(unit)) {
      window.complete(unit, false, false, null);
      return;
    }
    dlqFailure.addSuppressed(last);
    window.complete(unit, false, false, dlqFailure);
  }

  /** Whether the run (cancel, stop past its drain, close) or a rebalance ended the unit. */
  private boolean runEnded(WorkUnit unit) {
    return cancelled.getAsBoolean() || window.isStopped(unit);
  }
}
