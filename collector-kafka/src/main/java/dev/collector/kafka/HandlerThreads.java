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
   * Invariant: a unit is settled exactly once (Window.completeAndTake), after its last attempt
   * ended, and a thread's interrupt status never leaks from one unit into the next: interrupts
   * are sent under the window lock only to a RUNNING unit's runner, and the runner clears its
   * status under that lock after the unit left RUNNING and before its next unit becomes RUNNING
   * (settling and taking the next unit is one hold of the lock: half the lock traffic of the
   * handlers, and no moment when a ready unit waits for a thread that is between two units). An interrupt (cancel, revoke, lost) ends a unit as ABORTED, never as a failure and
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
      WorkUnit unit = window.take();
      while (unit != null) {
        Settlement end = settle(unit);
        unit = window.completeAndTake(unit, end.done(), end.deadLetter(), end.cause());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // nobody interrupts an idle handler thread; end it
    } finally {
      CURRENT.remove();
    }
  }

  /** How a unit's attempts ended, for {@link Window#complete}. */
  private record Settlement(boolean done, boolean deadLetter, @Nullable Throwable cause) {
    static final Settlement HANDLED = new Settlement(true, false, null);
    static final Settlement DEAD_LETTERED = new Settlement(true, true, null);
    static final Settlement ABORTED = new Settlement(false, false, null);

    static Settlement failed(Throwable cause) {
      return new Settlement(false, false, cause);
    }
  }

  private Settlement settle(WorkUnit unit) {
    Throwable last;
    int attempt = 1;
    while (true) {
      try {
        handler.handle(unit, attempt);
        return Settlement.HANDLED;
      } catch (Throwable t) { // an Error fails the unit like an exception: it is never acked
        last = t;
      }
      if (aborted(unit, last)) {
        return Settlement.ABORTED;
      }
      if (attempt >= policy.retry().maxAttempts()) {
        break;
      }
      Duration delay = policy.retry().delay(attempt, ThreadLocalRandom.current());
      try {
        Thread.sleep(delay);
      } catch (InterruptedException e) {
        return Settlement.ABORTED; // cancelled while backing off
      }
      attempt++;
    }
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter == null) {
      return Settlement.failed(last);
    }
    try {
      deadLetter.deadLetter(handler.batch(unit, attempt), last);
      LOG.log(Level.WARNING, "{0}: dead-lettered {1} after {2} attempts: {3}",
          name, unit, attempt, last.toString());
      return Settlement.DEAD_LETTERED;
    } catch (Throwable t) {
      if (aborted(unit, t)) {
        return Settlement.ABORTED;
      }
      t.addSuppressed(last);
      return Settlement.failed(t);
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
