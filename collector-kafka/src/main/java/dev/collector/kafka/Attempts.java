package dev.collector.kafka;

import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Runs one unit through the failure policy on a handler thread -- attempts, backoff, dead letter --
 * and says how it ended; HandlerThreads settles it in the {@link Window} exactly once.
 */
final class Attempts {

  /*
   * Invariant: settle() returns a Settlement for every unit, whatever the handler, the policy or
   * the dead-letter handler throws (an Error too), and HandlerThreads hands it to
   * Window.completeAndTake: a unit is never left RUNNING, so no partition stalls silently.
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

  Attempts(
      String name,
      Window window,
      UnitHandler handler,
      FailurePolicy policy,
      BooleanSupplier cancelled) {
    this.name = name;
    this.window = window;
    this.handler = handler;
    this.policy = policy;
    this.cancelled = cancelled;
  }

  /** How a unit's attempts ended, for {@link Window#completeAndTake}. */
  record Settlement(boolean done, boolean deadLetter, @Nullable Throwable cause) {
    static final Settlement HANDLED = new Settlement(true, false, null);
    static final Settlement DEAD_LETTERED = new Settlement(true, true, null);
    static final Settlement ABORTED = new Settlement(false, false, null);

    static Settlement failed(Throwable cause) {
      return new Settlement(false, false, cause);
    }
  }

  /** Runs the unit's attempts and says how they ended; never throws. */
  Settlement settle(WorkUnit unit) {
    try {
      return attempts(unit);
    } catch (Throwable t) { // the policy itself threw (a retry delay, say): fail, never stall
      return runEnded(unit) ? Settlement.ABORTED : Settlement.failed(t);
    }
  }

  private Settlement attempts(WorkUnit unit) {
    if (unit.poison != null) { // unreadable (PoisonPill): never given to the user's handler
      return deadLetter(unit, unit.poison, 1);
    }
    Throwable last;
    int attempt = 1;
    while (true) {
      try {
        handler.handle(unit, attempt);
        return Settlement.HANDLED;
      } catch (Throwable t) { // an Error fails the unit like an exception: it is never acked
        last = t;
      }
      Thread.interrupted(); // the attempt's own interrupt, if any; the run's is in the flag
      if (runEnded(unit)) {
        return Settlement.ABORTED;
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
        return Settlement.ABORTED; // cancelled while backing off
      }
      attempt++;
    }
    return deadLetter(unit, last, attempt);
  }

  private Settlement deadLetter(WorkUnit unit, Throwable last, int attempt) {
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter == null) {
      return Settlement.failed(last);
    }
    Throwable dlqFailure;
    try {
      deadLetter.deadLetter(handler.batch(unit, attempt), last);
      LOG.log(
          Level.WARNING,
          "{0}: dead-lettered {1} after {2} attempts: {3}",
          name,
          unit,
          attempt,
          last.toString());
      return Settlement.DEAD_LETTERED;
    } catch (Throwable t) {
      dlqFailure = t;
    }
    Thread.interrupted(); // as after an attempt
    if (runEnded(unit)) {
      return Settlement.ABORTED;
    }
    dlqFailure.addSuppressed(last);
    return Settlement.failed(dlqFailure);
  }

  /** Whether the run (cancel, stop past its drain, close) or a rebalance ended the unit. */
  private boolean runEnded(WorkUnit unit) {
    return cancelled.getAsBoolean() || window.isStopped(unit);
  }
}
