package dev.collector.kafka;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The units that may start now, in the order they became startable, and the handler threads' wait
 * for one. Not thread-safe on its own: every method is called with the {@link Window}'s lock held
 * (the lock passed in).
 */
final class ReadyQueue {

  /*
   * Invariant: a unit is in `ready` exactly when it is QUEUED and nothing it must wait for is
   * unfinished: it has no lane, or it is the head of its lane (Lanes). A unit enters once in its
   * life -- when dispatched as its lane's head (or laneless), or later, when the unit before it
   * in its lane finished or was dropped -- and leaves once, to one taker. So a unit is handed to
   * exactly one handler, and units of a lane never run at the same time.
   *
   * Every entry signals one waiting taker (`work`): a taker that wakes and finds the queue empty
   * again (another took the unit first) simply waits again, so no signal is needed twice.
   */

  private final ArrayDeque<WorkUnit> ready = new ArrayDeque<>();
  private final Lanes lanes = new Lanes();
  private final Condition work;
  private boolean closed;

  ReadyQueue(ReentrantLock lock) {
    this.work = lock.newCondition();
  }

  /** A dispatched unit: ready now, or queued behind its lane. */
  void add(WorkUnit unit) {
    if (lanes.offer(unit)) {
      enter(unit);
    }
  }

  /** A unit finished or was dropped: the next unit of its lane, if any, becomes ready. */
  void release(WorkUnit unit) {
    WorkUnit next = lanes.finish(unit);
    if (next != null) {
      enter(next);
    }
  }

  private void enter(WorkUnit unit) {
    ready.addLast(unit);
    work.signal();
  }

  /**
   * The oldest ready unit, removed; waits (releasing the lock) for one until the deadline ({@code
   * Long.MAX_VALUE}: none).
   *
   * @return the unit, or {@code null} at the deadline or once closed and empty
   */
  @Nullable WorkUnit next(long deadlineNanos) throws InterruptedException {
    while (true) {
      WorkUnit unit = ready.pollFirst();
      if (unit != null || closed) {
        return unit;
      }
      if (deadlineNanos == Long.MAX_VALUE) {
        work.await();
      } else {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return null;
        }
        work.await(left, TimeUnit.NANOSECONDS);
      }
    }
  }

  /** The run ends: takers get what is left, then {@code null}; every waiting taker wakes. */
  void close() {
    closed = true;
    work.signalAll();
  }
}
