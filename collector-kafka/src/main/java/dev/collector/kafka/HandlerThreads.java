package dev.collector.kafka;

import dev.collector.FailurePolicy;
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
   * handlers, and no moment when a ready unit waits for a thread that is between two units).
   * The run's interrupt (cancel, stop past its drain, close, revoke, lost) ends a unit as
   * ABORTED, never as a failure and never as a retry: the unit stays a gap and is delivered
   * again by the partition's next epoch. Whether an interrupt is the run's is decided by the
   * run's flags, not the thread's status (see Attempts).
   */

  /** Which collector the current thread handles for (re-entrant calls are misuse). */
  static final ThreadLocal<@Nullable Object> CURRENT = new ThreadLocal<>();

  private final Window window;
  private final Object owner;
  private final Thread[] threads;
  private final Attempts attempts;

  HandlerThreads(
      String name,
      Window window,
      UnitHandler handler,
      FailurePolicy policy,
      Object owner,
      BooleanSupplier cancelled,
      int concurrency) {
    this.window = window;
    this.owner = owner;
    this.attempts = new Attempts(name, window, handler, policy, cancelled);
    Thread.Builder builder = Thread.ofVirtual().name(name + "-handler-", 0);
    this.threads = new Thread[concurrency];
    for (int i = 0; i < concurrency; i++) {
      threads[i] = builder.start(this::work);
    }
  }

  private void work() {
    CURRENT.set(owner);
    try {
      WorkUnit unit = window.take();
      while (unit != null) {
        Attempts.Settlement end = attempts.settle(unit);
        unit = window.completeAndTake(unit, end.done(), end.deadLetter(), end.cause());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // nobody interrupts an idle handler thread; end it
    } finally {
      CURRENT.remove();
    }
  }

  /**
   * Waits for every handler thread to have terminated (G4: once the run returns, no thread of it is
   * alive -- joined, not only done with its task). An interrupt while waiting does not end the
   * wait; it is restored afterwards.
   */
  @Override
  public void close() {
    window.close();
    boolean interrupted = false;
    for (Thread t : threads) {
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
