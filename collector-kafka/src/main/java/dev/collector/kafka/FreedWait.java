package dev.collector.kafka;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The poll thread's wait, window full and partitions paused, for enough handled units to commit
 * ({@link Window#awaitRoom}). Not thread-safe on its own: every method is called with the {@link
 * Window}'s lock held (the lock passed in).
 */
final class FreedWait {

  /*
   * Invariant: `freed` has at most one waiter, the poll thread, and `target` is what it waits for
   * (room plus committable units) while it waits, 0 otherwise. `freed` is signalled only when that
   * target is reached (freed()) or the run drains, closes or fails (wake()), not on every
   * completion, so a full window costs the handlers nothing.
   */

  private final Condition freed;
  private int target;

  FreedWait(ReentrantLock lock) {
    this.freed = lock.newCondition();
  }

  /** The poll thread starts waiting for {@code target}. */
  void begin(int target) {
    this.target = target;
  }

  /**
   * Waits (releasing the lock) for a signal or the deadline; may wake spuriously, so the caller
   * re-checks what it waits for in a loop.
   *
   * @return {@code false} if the deadline had passed (nothing was waited for)
   */
  @SuppressWarnings("WaitNotInLoop") // the caller loops: Window.awaitRoom re-checks its condition
  boolean await(long deadlineNanos) throws InterruptedException {
    long left = deadlineNanos - System.nanoTime();
    if (left <= 0) {
      return false;
    }
    freed.await(left, TimeUnit.NANOSECONDS);
    return true;
  }

  /** The poll thread stopped waiting. */
  void end() {
    target = 0;
  }

  /** Whether the poll thread waits; when not, {@link #freed} need not be called. */
  boolean waiting() {
    return target > 0;
  }

  /** Units were freed: wakes the waiter if {@code freeable} reached its target. */
  void freed(int freeable) {
    if (target > 0 && freeable >= target) {
      freed.signal();
    }
  }

  /** The run drains, closes or fails: wakes the waiter. */
  void wake() {
    freed.signal();
  }
}
