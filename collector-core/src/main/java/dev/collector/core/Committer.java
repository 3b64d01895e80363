package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Checkpoint;
import dev.collector.Retry;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Writes a run's checkpoints to the store, on its own thread (and, in a {@code process} run, on the
 * owner when it waits for room). Invariant: it commits only the ring's acknowledged frontier, one
 * store call at a time, with strictly increasing sequences, and moves the ring's committed position
 * only after the store confirmed the write.
 */
final class Committer implements Runnable {

  /*
   * Mailbox: the ring's acknowledged frontier is the one word the committer reads; a thread
   * that moves the frontier calls wake(), which unparks the committer only when it announced
   * that it parks (a volatile flag, re-checked after setting it, so no wake-up is lost). Group
   * commit falls out: whatever the frontier is when the committer looks is what it commits.
   *
   * With a commit interval the committer lingers after each commit; finish() cuts the linger
   * short, so a run's final commit never waits, and so does a full window (the fetcher, which
   * can do nothing until a commit frees a slot, wakes the committer): lingering must never
   * stall a run.
   *
   * Helping: when a process() owner finds the window full, the only thing that can give it room
   * is a commit. Instead of waking the committer and waiting to be woken in turn (two thread
   * hand-offs per commit), it commits the frontier itself if no commit is in progress
   * (commitOnCaller). `writing` keeps store calls one at a time and in order. Not with a commit
   * interval: lingering is the point there.
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
  private volatile Lifecycle.@Nullable Failure failure;
  private final ReentrantLock writing = new ReentrantLock();

  @GuardedBy("writing")
  private long commits;

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

  /** The window is full: stop lingering (commitInterval) and commit now. */
  void windowFull() {
    if (lingerNanos > 0) {
      wake();
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

  /** Whether {@code t} is the committer's thread. */
  boolean runsOn(Thread t) {
    return thread == t;
  }

  /** Whether a commit failed for good. */
  boolean failed() {
    return failed;
  }

  /** The commit failure, once {@link #failed()} is true (whatever else failed in the run). */
  Lifecycle.Failure failure() {
    Lifecycle.Failure f = failure;
    if (f == null) {
      throw new IllegalStateException("no commit failed");
    }
    return f;
  }

  private void failedFor(long sequence, Throwable t) {
    failure = new Lifecycle.Failure(Lifecycle.Kind.COMMIT, sequence, t, List.of());
    failed = true; // after `failure`: whoever sees failed sees the failure
    lifecycle.commitFailed(sequence, t);
    onCommitted.run();
  }

  /** Commits made so far. */
  long commits() {
    writing.lock();
    try {
      return commits;
    } finally {
      writing.unlock();
    }
  }

  /**
   * Commits the frontier on the calling thread if there is something to commit and no commit is in
   * progress; for a process() owner whose window is full.
   *
   * @return whether this call committed (or failed for good trying)
   */
  boolean commitOnCaller() {
    if (lingerNanos > 0 || failed || !writing.tryLock()) {
      return false;
    }
    try {
      long target = ring.acked();
      if (failed || target <= ring.committed()) {
        return false;
      }
      commit(ring.checkpointAt(target));
      return true;
    } finally {
      writing.unlock();
    }
  }

  @Override
  public void run() {
    thread = Thread.currentThread();
    try {
      loop();
    } catch (Throwable t) { // a defect or an Error: the run must still end, and say why
      failedFor(ring.committed(), t);
    }
  }

  private void loop() {
    long lastCommit = System.nanoTime() - lingerNanos;
    while (!failed) {
      long target = ring.acked();
      if (target > ring.committed()) {
        if (lingerNanos > 0 && !finishing && ring.hasRoom()) { // a full window never waits
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
        writing.lock();
        try {
          if (failed) {
            return;
          }
          long now = ring.acked();
          if (now > ring.committed() && !commit(ring.checkpointAt(now))) {
            return;
          }
        } finally {
          writing.unlock();
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
  @GuardedBy("writing")
  private boolean commit(Checkpoint checkpoint) {
    Retry retry = context.options().commitRetry();
    long covered = checkpoint.sequence() - ring.committed();
    Telemetry.@Nullable CommitEvent event = Telemetry.beginCommit();
    long started = System.nanoTime();
    for (int attempt = 1; ; attempt++) {
      try {
        context.store().commit(checkpoint);
        break;
      } catch (Throwable t) {
        if (attempt >= retry.maxAttempts()) {
          failedFor(checkpoint.sequence(), t);
          return false;
        }
        RunContext.sleepUninterruptibly(
            context.backoffAfter(
                retry, attempt, "committing checkpoint " + checkpoint.sequence(), t));
      }
    }
    ring.committed(checkpoint);
    commits++;
    context
        .telemetry()
        .committed(event, checkpoint.sequence(), covered, System.nanoTime() - started);
    onCommitted.run();
    return true;
  }
}
