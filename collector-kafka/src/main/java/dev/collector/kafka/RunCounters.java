package dev.collector.kafka;

import org.jspecify.annotations.Nullable;

/**
 * What a run has done so far, for its summary and progress, and what ended it. Not thread-safe:
 * used under the {@link Window}'s lock.
 */
final class RunCounters {

  /*
   * Invariant: the counters only grow, and the run's failure is the first one reported: a later
   * failure (of another unit, or a commit) never replaces it, so the exception the run ends with
   * names the unit that failed first.
   */

  private long handled;
  private long handledRecords;
  private long committedUnits;
  private long committedRecords;
  private long deadLettered;
  private long fencedCompletions;
  private @Nullable WorkUnit failed;
  private @Nullable Throwable failure;

  void handled(WorkUnit unit, boolean deadLetter) {
    handled++;
    handledRecords += unit.records.size();
    if (deadLetter) {
      deadLettered++;
    }
  }

  void committed(int units, long records) {
    committedUnits += units;
    committedRecords += records;
  }

  void fencedCompletion() {
    fencedCompletions++;
  }

  /** Records the run's failure unless one is set; {@code unit} null: not a unit's (a commit's). */
  void fail(@Nullable WorkUnit unit, Throwable cause) {
    if (failure == null) {
      failure = cause;
      failed = unit;
    }
  }

  boolean failed() {
    return failure != null;
  }

  Window.@Nullable Failure failure() {
    return failure == null ? null : new Window.Failure(failed, failure);
  }

  Window.Totals totals(int uncommitted, int running) {
    return new Window.Totals(
        uncommitted,
        running,
        handled,
        handledRecords,
        committedUnits,
        committedRecords,
        deadLettered,
        fencedCompletions);
  }
}
