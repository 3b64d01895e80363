package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Watches a run's running batches: reports each one running longer than the stuck threshold once,
 * and interrupts a handler attempt that exceeds the batch timeout. Invariant: a timeout interrupt
 * reaches only the attempt it was meant for.
 *
 * <p>Exists only when a run has a stuck threshold or a batch timeout; then its own virtual thread
 * wakes a few times per period. {@link #beginAttempt}/{@link #endAttempt} are called by handler
 * threads, and only when a batch timeout is set.
 */
final class Watchdog implements Runnable {

  /*
   * Stuck reports read the ring's attempt start times without a lock (a snapshot; a report
   * may come a period late). Timeouts need a handshake, since an interrupt sent as an attempt
   * ends would hit the next attempt or the dead-letter handler: the handler registers its thread
   * per attempt under `lock`, the watchdog marks and interrupts under `lock`, and the handler
   * takes the mark and clears its interrupt status under `lock` when the attempt ends. That lock
   * is taken twice per attempt, and only when a batch timeout is set.
   */

  private final String name;
  private final SlotRing ring;
  private final long stuckNanos;
  private final long timeoutNanos;
  private final long periodNanos;
  private final long[] warned; // watchdog thread only: sequence last reported per slot, + 1
  private final ReentrantLock lock = new ReentrantLock();

  @GuardedBy("lock")
  private final @Nullable Thread[] runners;

  @GuardedBy("lock")
  private final boolean[] timedOut;

  private volatile boolean stopped;
  private volatile @Nullable Thread thread;

  private Watchdog(String name, SlotRing ring, long stuckNanos, long timeoutNanos) {
    this.name = name;
    this.ring = ring;
    this.stuckNanos = stuckNanos;
    this.timeoutNanos = timeoutNanos;
    long shortest = Math.min(stuckNanos, timeoutNanos);
    this.periodNanos = Math.max(shortest / 4, 1_000_000);
    this.warned = new long[ring.depth()];
    boolean timeouts = timeoutNanos != Long.MAX_VALUE;
    this.runners = new Thread[timeouts ? ring.depth() : 0];
    this.timedOut = new boolean[timeouts ? ring.depth() : 0];
  }

  /**
   * A watchdog for {@code ring}, or {@code null} if neither limit is set.
   *
   * @param batchTimeout zero for none (the pull API passes zero: it cannot interrupt callers)
   */
  static @Nullable Watchdog of(
      String name, SlotRing ring, Duration stuckThreshold, Duration batchTimeout) {
    long stuck =
        stuckThreshold.isZero() ? Long.MAX_VALUE : RunContext.saturatedNanos(stuckThreshold);
    long timeout = batchTimeout.isZero() ? Long.MAX_VALUE : RunContext.saturatedNanos(batchTimeout);
    if (stuck == Long.MAX_VALUE && timeout == Long.MAX_VALUE) {
      return null;
    }
    return new Watchdog(name, ring, stuck, timeout);
  }

  /** Whether handler attempts must call {@link #beginAttempt}/{@link #endAttempt}. */
  boolean hasTimeout() {
    return timeoutNanos != Long.MAX_VALUE;
  }

  /** The current thread starts an attempt of batch {@code sequence}. */
  void beginAttempt(long sequence) {
    int i = ring.slot(sequence);
    lock.lock();
    try {
      runners[i] = Thread.currentThread();
      timedOut[i] = false;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The attempt ended. If it timed out, the timeout's interrupt is cleared here.
   *
   * @return whether it timed out
   */
  boolean endAttempt(long sequence) {
    int i = ring.slot(sequence);
    lock.lock();
    try {
      runners[i] = null;
      boolean t = timedOut[i];
      timedOut[i] = false;
      if (t) {
        Thread.interrupted(); // our interrupt, sent under this lock, was for this attempt only
      }
      return t;
    } finally {
      lock.unlock();
    }
  }

  /** Whether {@code t} is the watchdog's thread. */
  boolean runsOn(Thread t) {
    return thread == t;
  }

  void stop() {
    stopped = true;
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  @Override
  public void run() {
    thread = Thread.currentThread();
    while (!stopped) {
      LockSupport.parkNanos(this, periodNanos);
      if (Thread.interrupted()) {
        return; // a cancelled scope: end here
      }
      if (!stopped) {
        watch();
      }
    }
  }

  private void watch() {
    long now = System.nanoTime();
    long to = ring.fetched();
    for (long s = ring.acked(); s < to; s++) {
      long started = ring.attemptStart(s);
      if (started == 0) {
        continue;
      }
      long age = now - started;
      int i = ring.slot(s);
      if (age >= timeoutNanos) {
        interruptIfRunning(i);
      }
      if (age >= stuckNanos && warned[i] != s + 1) {
        warned[i] = s + 1;
        Thread runner = ring.thread(s);
        RunContext.log(
            Level.WARNING,
            "collector '"
                + name
                + "': batch "
                + s
                + " has been running for "
                + Duration.ofNanos(age).toMillis()
                + " ms"
                + (runner == null ? "" : " (thread #" + runner.threadId() + ")")
                + "; it holds back the checkpoint and "
                + Math.max(0, to - s - 1)
                + " later batches");
      }
    }
  }

  private void interruptIfRunning(int i) {
    lock.lock();
    try {
      Thread runner = runners[i];
      if (runner != null && !timedOut[i]) {
        timedOut[i] = true;
        runner.interrupt();
      }
    } finally {
      lock.unlock();
    }
  }
}
