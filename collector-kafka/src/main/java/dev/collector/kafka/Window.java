package dev.collector.kafka;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.common.TopicPartition;
import org.jspecify.annotations.Nullable;

/**
 * The bounded, partitioned completion window of one run: every partition epoch, the global
 * count of uncommitted units, the queue of units ready to start.
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
   * One lock guards everything here; handlers never run under it. Conditions: `work` for the
   * handler threads (a unit became ready, or the run ends), `changed` for the poll thread
   * waiting on a drain (a unit finished, a partition was fenced).
   */

  /** A commit the poll thread may make: a track's handled prefix not committed yet. */
  record CommitPoint(PartitionTrack track, long offset, int units, long records) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition work = lock.newCondition();
  private final Condition changed = lock.newCondition();
  private final Map<TopicPartition, PartitionTrack> tracks = new HashMap<>();
  private final ArrayDeque<WorkUnit> ready = new ArrayDeque<>();
  private final Lanes lanes = new Lanes();
  private final int depth;

  private int uncommitted;
  private int running;
  private long nextEpoch;
  private boolean draining;
  private boolean closed;
  private long handled;
  private long handledRecords;
  private long committedUnits;
  private long committedRecords;
  private long deadLettered;
  private long fencedCompletions;
  private @Nullable WorkUnit failed;
  private @Nullable Throwable failure;

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
      return tracks.computeIfAbsent(partition, tp -> new PartitionTrack(tp, ++nextEpoch));
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

  /** Hands a unit to the handlers; the caller checked {@link #room()}. */
  void dispatch(WorkUnit unit) {
    lock.lock();
    try {
      if (uncommitted + unit.units > depth) {
        throw new IllegalStateException("dispatch of " + unit + " would exceed depth " + depth);
      }
      uncommitted += unit.units;
      unit.track.add(unit);
      if (lanes.offer(unit)) {
        ready.addLast(unit);
        work.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The next unit to run, marked running on the calling thread, or {@code null} once the window
   * is closed. Units of stopped tracks, or any unit while draining, are dropped instead.
   */
  @Nullable WorkUnit take() throws InterruptedException {
    return next(Thread.currentThread(), Long.MAX_VALUE);
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
        WorkUnit unit = ready.pollFirst();
        if (unit == null) {
          if (closed) {
            return null;
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
          continue;
        }
        if (draining || unit.track.stopped()) {
          unit.state = WorkUnit.State.DROPPED;
          release(unit);
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
  boolean settlePulled(WorkUnit unit, boolean done, boolean deadLetter,
      @Nullable Throwable cause) {
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
      for (PartitionTrack track : List.copyOf(tracks.values())) {
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
   * Waits until every live partition's handled prefix at the time of the call is committed (or
   * the partition was fenced, or the run failed).
   */
  void awaitCommitted() throws InterruptedException {
    lock.lock();
    try {
      Map<PartitionTrack, Long> targets = new HashMap<>();
      for (PartitionTrack track : tracks.values()) {
        if (track.acked > track.committed) {
          targets.put(track, track.acked);
        }
      }
      while (failure == null && !closed) {
        targets.entrySet().removeIf(e -> e.getKey().fenced
            || e.getKey().committed >= e.getValue());
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
      release(unit);
      PartitionTrack track = unit.track;
      if (track.fenced) {
        fencedCompletions++;
        uncommitted -= unit.units; // its track no longer counts it; only its running thread did
      } else if (done) {
        handled++;
        handledRecords += unit.records.size();
        if (deadLetter) {
          deadLettered++;
        }
        track.advance();
      } else if (cause != null && failure == null) {
        failure = cause;
        failed = unit;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void release(WorkUnit unit) {
    WorkUnit next = lanes.finish(unit);
    if (next != null) {
      ready.addLast(next);
      work.signal();
    }
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
      work.signalAll();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Interrupts the running handlers of the given partitions, or of all if {@code null}. */
  void interruptRunning(@Nullable Collection<TopicPartition> partitions) {
    lock.lock();
    try {
      for (PartitionTrack track : tracks.values()) {
        if (partitions == null || partitions.contains(track.partition)) {
          interrupt(track);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private static void interrupt(PartitionTrack track) {
    for (WorkUnit unit : track.inFlight) {
      Thread runner = unit.runner;
      if (unit.state == WorkUnit.State.RUNNING && runner != null) {
        runner.interrupt(); // under the lock, so it cannot hit the runner's next unit
      }
    }
  }

  /** Marks partitions as being revoked: their queued units are dropped from now on. */
  void beginRevoke(Collection<TopicPartition> partitions) {
    lock.lock();
    try {
      for (TopicPartition tp : partitions) {
        PartitionTrack track = tracks.get(tp);
        if (track != null) {
          track.revoking = true;
        }
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
        int busy = 0;
        if (partitions == null) {
          busy = running;
        } else {
          for (TopicPartition tp : partitions) {
            PartitionTrack track = tracks.get(tp);
            busy += track == null ? 0 : track.running;
          }
        }
        if (busy == 0) {
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
      List<CommitPoint> points = new ArrayList<>();
      for (PartitionTrack track : tracks.values()) {
        if (!track.fenced
            && track.acked > track.committed
            && (partitions == null || partitions.contains(track.partition))) {
          points.add(new CommitPoint(track, track.acked, track.ackedUnits, track.ackedRecords));
        }
      }
      return points;
    } finally {
      lock.unlock();
    }
  }

  /** Records commits the group confirmed. */
  void committed(List<CommitPoint> points) {
    lock.lock();
    try {
      for (CommitPoint point : points) {
        PartitionTrack track = point.track();
        if (track.fenced || point.offset() <= track.committed) {
          continue;
        }
        track.committed = point.offset();
        track.ackedUnits -= point.units();
        track.ackedRecords -= point.records();
        uncommitted -= point.units();
        committedUnits += point.units();
        committedRecords += point.records();
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
          interrupt(track);
        }
      }
      changed.signalAll();
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
      return new Totals(uncommitted, running, handled, handledRecords, committedUnits,
          committedRecords, deadLettered, fencedCompletions);
    } finally {
      lock.unlock();
    }
  }

  /** What ended the run: a unit that failed for good (with its cause), or a commit failure. */
  record Failure(@Nullable WorkUnit unit, Throwable cause) {}

  @Nullable Failure failure() {
    lock.lock();
    try {
      return failure == null ? null : new Failure(failed, failure);
    } finally {
      lock.unlock();
    }
  }

  /** Sets the run's failure from the poll thread (a commit failed), unless one is set. */
  void fail(Throwable cause) {
    lock.lock();
    try {
      if (failure == null) {
        failure = cause;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  List<PartitionProgress> partitions() {
    lock.lock();
    try {
      List<PartitionProgress> list = new ArrayList<>();
      for (PartitionTrack track : tracks.values()) {
        list.add(track.progress());
      }
      list.sort(Comparator.comparing(PartitionProgress::topic)
          .thenComparingInt(PartitionProgress::partition));
      return list;
    } finally {
      lock.unlock();
    }
  }
}
