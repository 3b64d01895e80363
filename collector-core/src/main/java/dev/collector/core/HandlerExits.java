package dev.collector.core;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * Counts a run's handler threads and makes sure they have all ended (G4). Invariant: once {@link
 * #running()} is 0 and {@link #awaitTerminated()} returned, every handler thread the run started
 * has terminated.
 *
 * <p>{@link #started()}, {@link #running()} and {@link #awaitTerminated()} are for the run's owner;
 * {@link #exit()} is each handler thread's last act.
 */
final class HandlerExits {

  /*
   * "Ended" means terminated, not "returned from our code": a thread runs a few instructions
   * after its task. Instead of a set of threads to join (which would cost a concurrent-map
   * entry per batch and keep every thread reachable), each exiting thread swaps itself into
   * `last` and joins the thread it replaced; the owner, once every thread has passed exit(),
   * joins the last one. The chain makes every earlier thread terminate before the one the
   * owner joins, in O(1) memory. The predecessor has almost always terminated already, so the
   * join is a state check.
   */

  private final AtomicReference<@Nullable Thread> last = new AtomicReference<>();
  private final AtomicLong started = new AtomicLong();
  private final AtomicLong exited = new AtomicLong();
  private final Wakeup owner;

  HandlerExits(Wakeup owner) {
    this.owner = owner;
  }

  /** The owner is about to start a handler thread. */
  void started() {
    started.setRelease(started.getPlain() + 1);
  }

  /** The owner could not start the thread it announced. */
  void notStarted() {
    started.setRelease(started.getPlain() - 1);
  }

  /** Handler threads started and not yet past {@link #exit()}; exact for the owner. */
  long running() {
    return Math.max(0, started.get() - exited.get());
  }

  /** A handler thread's last act. Never throws; keeps the thread's interrupt status. */
  void exit() {
    Thread previous = last.getAndSet(Thread.currentThread());
    if (previous != null) {
      StructuredScope.joinUninterruptibly(previous);
    }
    exited.incrementAndGet();
    owner.wake();
  }

  /** Joins the last exited thread; call once {@link #running()} is 0. */
  void awaitTerminated() {
    Thread t = last.get();
    if (t != null) {
      StructuredScope.joinUninterruptibly(t);
    }
  }
}
