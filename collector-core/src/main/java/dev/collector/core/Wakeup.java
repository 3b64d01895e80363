package dev.collector.core;

import java.util.concurrent.locks.LockSupport;

/**
 * Parks one thread until another has news for it. Invariant: a {@link #wake()} after {@link #arm()}
 * is never lost; a wake-up while the waiter is not armed costs one volatile read.
 *
 * <p>The waiter's protocol: {@code arm()}, re-check its condition, {@code park()} only if it still
 * holds, then {@code disarm()}. Wake-ups may be spurious; the waiter re-checks in a loop.
 */
final class Wakeup {

  private final Thread waiter;
  private volatile boolean armed;

  Wakeup(Thread waiter) {
    this.waiter = waiter;
  }

  Thread waiter() {
    return waiter;
  }

  void arm() {
    armed = true;
  }

  void disarm() {
    armed = false;
  }

  /** Parks the waiter (only the waiter calls this, armed); returns on wake-up or spuriously. */
  void park() {
    LockSupport.park(this);
  }

  /** Like {@link #park()}, for at most {@code nanos}. */
  void parkNanos(long nanos) {
    LockSupport.parkNanos(this, nanos);
  }

  void wake() {
    if (armed) {
      LockSupport.unpark(waiter);
    }
  }
}
