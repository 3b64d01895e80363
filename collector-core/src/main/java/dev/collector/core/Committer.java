package dev.collector.core;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Retry;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The one thread of a run that writes to the checkpoint store. Invariant: it commits only the
 * ring's acknowledged frontier, one store call at a time, with strictly increasing sequences,
 * and moves the ring's committed position only after the store confirmed the write.
 */
final class Committer implements Runnable {

  /*
   * Mailbox: the ring's acknowledged frontier is the one word the committer reads; a thread
   * that moves the frontier calls wake(), which unparks the committer only when it announced
   * that it parks (a volatile flag, re-checked after setting it, so no wake-up is lost). Group
   * commit falls out: whatever the frontier is when the committer looks is what it commits.
   *
   * With a commit interval the committer lingers after each commit; finish() cuts the linger
   * short, so a run's final commit never waits.
   *
   * The committer is never interrupted by the run: cancelling handlers must not cancel a
   * commit. finish() asks it to commit what is acknowledged and return. A commit that still
   * fails after its retries is recorded in the lifecycle (never dropped) and the committer
   * returns; nothing is committed after a failed commit.
   */

  private final RunContext<?> context;
  private final SlotRing ring;
  private final Lifecycle lifecycle;
  private final Runnable onCommitted;
  private final long lingerNanos;
  private volatile @Nullable Thread thread;
  private volatile boolean parked;
  private volatile boolean finishing;
  private volatile boolean failed;
  private long commits; // committer thread only; read after it ended

  Committer(RunContext<?> context, SlotRing ring, Lifecycle lifecycle, Runnable onCommitted) {
    this.context = context;
    this.ring = ring;
    this.lifecycle = lifecycle;
    this.onCommitted = onCommitted;
    this.lingerNanos = RunContext.saturatedNanos(context.options().commitInterval());
  }

  /** The frontier moved: commit it soon. Any thread; cheap when the committer is busy. */
  void wake() {
    if (parked) {
      Thread t = thread;
      if (t != null) {
        LockSupport.unpark(t);
      }
    }
  }

  /** Commit what is acknowledged now and return. */
  void finish() {
    finishing = true;
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /** Whether a commit failed for good (the lifecycle holds the failure). */
  boolean failed() {
    return failed;
  }

  /** Commits made; read only after the committer thread ended. */
  long commits() {
    return commits;
  }

  @Override
  public void run() {
    thread = Thread.currentThread();
    try {
      loop();
    } catch (Throwable t) { // a defect or an Error: the run must still end, and say why
      failed = true;
      lifecycle.commitFailed(ring.committed(), t);
      onCommitted.run();
    }
  }

  private void loop() {
    long lastCommit = System.nanoTime() - lingerNanos;
    while (true) {
      long target = ring.acked();
      if (target > ring.committed()) {
        if (lingerNanos > 0 && !finishing) {
          long wait = lastCommit + lingerNanos - System.nanoTime();
          if (wait > 0) {
            parked = true;
            if (!finishing) {
              LockSupport.parkNanos(this, wait);
            }
            parked = false;
            continue;
          }
        }
        if (!commit(ring.checkpointAt(target))) {
          return;
        }
        lastCommit = System.nanoTime();
        continue;
      }
      if (finishing) {
        return;
      }
      parked = true;
      if (ring.acked() == ring.committed() && !finishing) {
        LockSupport.park(this);
      }
      parked = false;
    }
  }

  /** One checkpoint, retried per the options; false if it failed for good. */
  private boolean commit(Checkpoint checkpoint) {
    Retry retry = context.options().commitRetry();
    long covered = checkpoint.sequence() - ring.committed();
    long started = System.nanoTime();
    for (int attempt = 1; ; attempt++) {
      try {
        context.store().commit(checkpoint);
        break;
      } catch (Throwable t) {
        if (attempt >= retry.maxAttempts()) {
          failed = true;
          lifecycle.commitFailed(checkpoint.sequence(), t);
          onCommitted.run();
          return false;
        }
        RunContext.sleepUninterruptibly(
            context.backoffAfter(
                retry, attempt, "committing checkpoint " + checkpoint.sequence(), t));
      }
    }
    ring.committed(checkpoint);
    commits++;
    context.telemetry().committed(checkpoint.sequence(), covered, System.nanoTime() - started);
    onCommitted.run();
    return true;
  }
}
