package dev.collector.kafka;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.common.TopicPartition;
import org.jspecify.annotations.Nullable;

/**
 * The bounded, partitioned completion window of one run: every partition epoch and the global count
 * of uncommitted units. The units ready to start ({@link ReadyQueue}) and the run's counters
 * ({@link RunCounters}) live under its lock.
 */
final class Window {

  /*
   * Invariant: `uncommitted` is the number of units dispatched and not yet committed over all
   * live tracks, plus the units of fenced tracks whose handler is still running, and it never
   * exceeds `depth`. Only the poll thread raises it (dispatch checks room first, under the lock);
   * commits, fencing and late completions of fenced units lower it. So the poll thread's
   * "room > 0, then dispatch" cannot overshoot, and memory held by the run is bounded by
   * depth units (a fenced unit still running keeps its records until its handler returns).
   *
   * One lock guards everything here, the ready queue, the counters and every track and unit
   * included; handlers never run under it. Conditions: the ready queue's for the handler threads
   * (a unit became ready, or the run ends); `changed` for the poll thread waiting on a drain (a
   * unit finished, a partition was fenced); `freed` (FreedWait, its own invariant) for the poll
   * thread waiting, paused, for enough handled units to commit (awaitRoom).
   */

  /** A commit the poll thread may make: a track's handled prefix not committed yet. */
  record CommitPoint(PartitionTrack track, long offset, int units, long records) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();

  @GuardedBy("lock")
  private final PartitionTracks tracks = new PartitionTracks();

  @GuardedBy("lock")
  private final ReadyQueue ready = new ReadyQueue(lock);

  @GuardedBy("lock")
  private final RunCounters counters = new RunCounters();

  private final int depth;

  @GuardedBy("lock")
  private int uncommitted;

  @GuardedBy("lock")
  private int running;

  @GuardedBy("lock")
  private boolean draining;

  @GuardedBy("lock")
  private boolean closed;

  /** awaitRoom's wait ({@code freed}). */
  @GuardedBy("lock")
  private final FreedWait freed = new FreedWait(lock);

  Window(int depth) {
    this.depth = depth;
  }

  int depth() {
    return depth;
  }

  /** The track of a newly assigned partition: a new epoch, or the live one if still assigned. */
  PartitionTrack assign(TopicPartition partition) {
    lock.lock();
    try {
      return tracks.assign(partition);
    } finally {
      lock.unlock();
    }
  }

  @Nullable PartitionTrack live(TopicPartition partition) {
    lock.lock();
    try {
      PartitionTrack track = tracks.get(partition);
      return track == null || track.stopped() ? null : track;
    } finally {
      lock.unlock();
    }
  }

  int room() {
    lock.lock();
    try {
      return depth - uncommitted;
    } finally {
      lock.unlock();
    }
  }

  /** Hands units to the handlers; the caller checked {@link #room()}. */
  void dispatch(List<WorkUnit> units) {
    lock.lock();
    try {
      int adding = 0;
      for (WorkUnit unit : units) {
        adding += unit.units;
      }
      if (uncommitted + adding > depth) {
        throw new IllegalStateException(
            "dispatch of "
                + adding
                + " units would exceed depth "
                + depth
                + " with "
                + uncommitted
                + " uncommitted");
      }
      for (WorkUnit unit : units) {
        uncommitted += unit.units;
        unit.track.add(unit);
        ready.add(unit);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The next unit to run, marked running on the calling thread, or {@code null} once the window is
   * closed. Units of stopped tracks, or any unit while draining, are dropped instead.
   */
  @Nullable WorkUnit take() throws InterruptedException {
    return next(Thread.currentThread(), Long.MAX_VALUE);
  }

  /**
   * A handler thread's turn: settles the unit it ran (as {@link #complete}) and takes its next unit
   * (as {@link #take}) under one hold of the lock. In between, still under the lock, it clears the
   * thread's interrupt status: an interrupt meant for the settled unit was sent under this lock
   * while that unit was RUNNING, so it is set by now, and one meant for the next unit can only be
   * sent after the lock is released -- so none leaks into the next unit and none meant for it is
   * lost.
   */
  @Nullable WorkUnit completeAndTake(
      WorkUnit unit, boolean done, boolean deadLetter, @Nullable Throwable cause)
      throws InterruptedException {
    lock.lock();
    try {
      complete(unit, done, deadLetter, cause);
      Thread.interrupted(); // a stray interrupt of the settled unit (see above)
      return next(Thread.currentThread(), Long.MAX_VALUE);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Pull API: the next ready unit, marked running with no runner thread (a pull caller is never
   * interrupted), or {@code null} at the deadline or once the window is closed.
   */
  @Nullable WorkUnit takePulled(long deadlineNanos) throws InterruptedException {
    return next(null, deadlineNanos);
  }

  private @Nullable WorkUnit next(@Nullable Thread runner, long deadlineNanos)
      throws InterruptedException {
    lock.lock();
    try {
      while (true) {
        WorkUnit unit = ready.next(deadlineNanos);
        if (unit == null) {
          return null;
        }
        if (draining || unit.track.stopped()) {
          unit.state = WorkUnit.State.DROPPED;
          ready.release(unit);
          continue;
        }
        unit.state = WorkUnit.State.RUNNING;
        unit.runner = runner;
        unit.startedNanos = System.nanoTime();
        unit.track.running++;
        running++;
        return unit;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Pull API: settles a delivered unit, unless its epoch has ended.
   *
   * @return {@code false} if the unit is stale: its partition was revoked or lost, or the session
   *     ended; nothing was committed for it
   */
  boolean settlePulled(WorkUnit unit, boolean done, boolean deadLetter, @Nullable Throwable cause) {
    lock.lock();
    try {
      if (unit.state != WorkUnit.State.RUNNING) {
        return false; // abandoned when the session ended
      }
      if (unit.track.fenced) {
        complete(unit, false, false, null); // releases its slot, counts a fenced completion
        return false;
      }
      complete(unit, done, deadLetter, cause);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Pull API, session ending: delivered units nobody settled become gaps (delivered again). */
  void abandonPulled() {
    lock.lock();
    try {
      for (PartitionTrack track : tracks.of(null)) {
        for (WorkUnit unit : List.copyOf(track.inFlight)) {
          if (unit.state == WorkUnit.State.RUNNING && unit.runner == null) {
            complete(unit, false, false, null);
          }
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until every live partition's handled prefix at the time of the call is committed (or the
   * partition was fenced, or the run failed).
   */
  void awaitCommitted() throws InterruptedException {
    lock.lock();
    try {
      Map<PartitionTrack, Long> targets = new HashMap<>();
      for (CommitPoint point : tracks.commitPoints(null)) {
        targets.put(point.track(), point.offset());
      }
      while (!counters.failed() && !closed) {
        targets.entrySet().removeIf(e -> e.getKey().fenced || e.getKey().committed >= e.getValue());
        if (targets.isEmpty()) {
          return;
        }
        changed.await();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Settles a unit that ran. {@code done}: handled (or dead-lettered), it may be committed.
   * Otherwise it stays a gap in its partition; {@code cause} non-null fails the run.
   */
  void complete(WorkUnit unit, boolean done, boolean deadLetter, @Nullable Throwable cause) {
    lock.lock();
    try {
      unit.state = done ? WorkUnit.State.DONE : WorkUnit.State.ABORTED;
      unit.runner = null;
      unit.track.running--;
      running--;
      ready.release(unit);
      PartitionTrack track = unit.track;
      if (track.fenced) {
        counters.fencedCompletion();
        uncommitted -= unit.units; // its track no longer counts it; only its running thread did
      } else if (done) {
        counters.handled(unit, deadLetter);
        track.advance();
      } else if (cause != null) {
        counters.fail(unit, cause);
      }
      changed.signalAll();
      signalFreed();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Poll thread, window full: waits until room plus the handled units not committed yet reach
   * {@code target} -- so that a commit now would let the partitions resume -- or the deadline, or
   * the run drains or fails. May return early.
   *
   * @return whether some handled units are waiting for a commit
   */
  boolean awaitRoom(int target, long deadlineNanos) throws InterruptedException {
    lock.lock();
    try {
      freed.begin(target);
      try {
        while (!draining && !counters.failed() && freeable() < target) {
          if (!freed.await(deadlineNanos)) {
            break;
          }
        }
      } finally {
        freed.end();
      }
      return tracks.committable() > 0;
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void signalFreed() {
    if (freed.waiting()) { // else nothing to compute: a full window costs the handlers nothing
      freed.freed(freeable());
    }
  }

  /** Room now plus what committing the handled prefixes would free. */
  @GuardedBy("lock")
  private int freeable() {
    return depth - uncommitted + tracks.committable();
  }

  /** Whether a unit's partition is being revoked or was fenced. */
  boolean isStopped(WorkUnit unit) {
    lock.lock();
    try {
      return unit.track.stopped();
    } finally {
      lock.unlock();
    }
  }

  /** Stop starting units (stop, fail-fast, cancel): queued units are dropped, not run. */
  void drain() {
    lock.lock();
    try {
      draining = true;
      changed.signalAll();
      freed.wake();
    } finally {
      lock.unlock();
    }
  }

  /** Ends the handler threads once the ready queue is empty. */
  void close() {
    lock.lock();
    try {
      closed = true;
      draining = true;
      ready.close();
      changed.signalAll();
      freed.wake();
    } finally {
      lock.unlock();
    }
  }

  /** Interrupts the running handlers of the given partitions, or of all if {@code null}. */
  void interruptRunning(@Nullable Collection<TopicPartition> partitions) {
    lock.lock();
    try {
      for (PartitionTrack track : tracks.of(partitions)) {
        track.interruptRunning();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Marks partitions as being revoked: their queued units are dropped from now on. */
  void beginRevoke(Collection<TopicPartition> partitions) {
    lock.lock();
    try {
      for (PartitionTrack track : tracks.of(partitions)) {
        track.revoking = true;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until no handler of the given partitions (all if {@code null}) runs, or the deadline.
   *
   * @return {@code true} if none runs
   */
  boolean awaitIdle(@Nullable Collection<TopicPartition> partitions, long deadlineNanos)
      throws InterruptedException {
    lock.lock();
    try {
      while (true) {
        if ((partitions == null ? running : tracks.running(partitions)) == 0) {
          return true;
        }
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        changed.await(left, TimeUnit.NANOSECONDS);
      }
    } finally {
      lock.unlock();
    }
  }

  /** The handled prefixes not committed yet, of the given partitions or of all. */
  List<CommitPoint> commitPoints(@Nullable Collection<TopicPartition> partitions) {
    lock.lock();
    try {
      return tracks.commitPoints(partitions);
    } finally {
      lock.unlock();
    }
  }

  /** Records commits the group confirmed. */
  void committed(List<CommitPoint> points) {
    lock.lock();
    try {
      for (CommitPoint point : points) {
        if (point.track().committed(point)) {
          uncommitted -= point.units();
          counters.committed(point.units(), point.records());
        }
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Fences partitions (revoked after their commit, or lost): nothing of these epochs is committed
   * again. Running handlers keep their units counted until they return.
   */
  void fence(Collection<TopicPartition> partitions, boolean interruptRunning) {
    lock.lock();
    try {
      for (TopicPartition tp : partitions) {
        PartitionTrack track = tracks.remove(tp);
        if (track == null) {
          continue;
        }
        track.revoking = true;
        track.fenced = true;
        uncommitted -= track.idleUnits();
        if (interruptRunning) {
          track.interruptRunning();
        }
      }
      changed.signalAll();
      signalFreed();
    } finally {
      lock.unlock();
    }
  }

  /** Counters for the summary and progress. */
  record Totals(
      int uncommitted,
      int running,
      long handled,
      long handledRecords,
      long committed,
      long committedRecords,
      long deadLettered,
      long fenced) {}

  Totals totals() {
    lock.lock();
    try {
      return counters.totals(uncommitted, running);
    } finally {
      lock.unlock();
    }
  }

  /** What ended the run: a unit that failed for good (with its cause), or a commit failure. */
  record Failure(@Nullable WorkUnit unit, Throwable cause) {}

  @Nullable Failure failure() {
    lock.lock();
    try {
      return counters.failure();
    } finally {
      lock.unlock();
    }
  }

  /** Sets the run's failure from the poll thread (a commit failed), unless one is set. */
  void fail(Throwable cause) {
    lock.lock();
    try {
      counters.fail(null, cause);
      changed.signalAll();
      freed.wake();
    } finally {
      lock.unlock();
    }
  }

  List<PartitionProgress> partitions() {
    lock.lock();
    try {
      return tracks.progress();
    } finally {
      lock.unlock();
    }
  }
}
