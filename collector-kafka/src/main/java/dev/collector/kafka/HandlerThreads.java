package dev.collector.kafka;

import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The run's handler threads: {@code concurrency} virtual threads taking units from the {@link
 * Window} and settling each through the failure policy.
 */
final class HandlerThreads implements AutoCloseable {

  /*
   * Invariant: a unit is settled exactly once (Window.complete), after its last attempt ended,
   * and a thread's interrupt status never leaks from one unit into the next: interrupts are sent
   * under the window lock only to a RUNNING unit's runner, and the runner clears its status after
   * complete() -- which moved the unit out of RUNNING under the same lock -- before taking the
   * next unit. An interrupt (cancel, revoke, lost) ends a unit as ABORTED, never as a failure and
   * never as a retry: the unit stays a gap and is delivered again by the partition's next epoch.
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  /** Which collector the current thread handles for (re-entrant calls are misuse). */
  static final ThreadLocal<@Nullable Object> CURRENT = new ThreadLocal<>();

  private final String name;
  private final Window window;
  private final UnitHandler handler;
  private final FailurePolicy policy;
  private final Object owner;
  private final BooleanSupplier cancelled;
  private final ExecutorService executor;

  HandlerThreads(
      String name,
      Window window,
      UnitHandler handler,
      FailurePolicy policy,
      Object owner,
      BooleanSupplier cancelled,
      int concurrency) {
    this.name = name;
    this.window = window;
    this.handler = handler;
    this.policy = policy;
    this.owner = owner;
    this.cancelled = cancelled;
    this.executor =
        Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name(name + "-handler-", 0).factory());
    for (int i = 0; i < concurrency; i++) {
      executor.execute(this::work);
    }
  }

  private void work() {
    CURRENT.set(owner);
    try {
      WorkUnit unit;
      while ((unit = window.take()) != null) {
        settle(unit);
        boolean stray = Thread.interrupted(); // an interrupt meant for the unit just settled
        if (stray) {
          LOG.log(Level.DEBUG, "{0}: cleared the interrupt of settled unit {1}", name, unit);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // nobody interrupts an idle handler thread; end it
    } finally {
      CURRENT.remove();
    }
  }

  private void settle(WorkUnit unit) {
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
      if (aborted(unit, last)) {
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
        window.complete(unit, false, false, null); // cancelled while backing off
        return;
      }
      attempt++;
    }
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter == null) {
      window.complete(unit, false, false, last);
      return;
    }
    try {
      deadLetter.deadLetter(handler.batch(unit, attempt), last);
      LOG.log(Level.WARNING, "{0}: dead-lettered {1} after {2} attempts: {3}",
          name, unit, attempt, last.toString());
      window.complete(unit, true, true, null);
    } catch (Throwable t) {
      if (aborted(unit, t)) {
        window.complete(unit, false, false, null);
      } else {
        t.addSuppressed(last);
        window.complete(unit, false, false, t);
      }
    }
  }

  /** Whether a failure is the run or the partition being taken away rather than the handler's. */
  private boolean aborted(WorkUnit unit, Throwable failure) {
    return failure instanceof InterruptedException
        || Thread.currentThread().isInterrupted()
        || cancelled.getAsBoolean()
        || stopped(unit);
  }

  private boolean stopped(WorkUnit unit) {
    return window.isStopped(unit);
  }

  /** Waits for every handler thread to end (no thread outlives the run). */
  @Override
  public void close() {
    window.close();
    executor.close();
  }
}
