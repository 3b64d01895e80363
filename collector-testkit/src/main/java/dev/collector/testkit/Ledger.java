package dev.collector.testkit;

import dev.collector.Batch;
import dev.collector.Checkpoint;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What a {@link CrashHarness} run did: every handler completion per run, where each run
 * started and where its crash left the durable checkpoint, and every commit. Its assertions
 * check the guarantees a handler relies on and print the seed to rerun with.
 *
 * <p>Thread-safe.
 *
 * @param <T> the record type
 */
public final class Ledger<T> {

  /** One run: from an open at {@code start} until a crash (or the end of the source). */
  public record Run(int number, Checkpoint start, Checkpoint end, boolean crashed,
      Set<Long> handled) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final long seed;
  private final FakeSource<T> source;
  private final List<Run> runs = new ArrayList<>();
  private final Set<Long> everHandled = new HashSet<>();
  private Set<Long> current = new TreeSet<>();
  private Checkpoint currentStart = Checkpoint.INITIAL;
  private long handlings;
  private List<Checkpoint> commits = List.of();

  Ledger(long seed, FakeSource<T> source) {
    this.seed = seed;
    this.source = source;
  }

  void startRun(Checkpoint start) {
    lock.lock();
    try {
      current = new TreeSet<>();
      currentStart = start;
    } finally {
      lock.unlock();
    }
  }

  void handled(Batch<T> batch) {
    lock.lock();
    try {
      current.add(batch.sequence());
      everHandled.add(batch.sequence());
      handlings++;
    } finally {
      lock.unlock();
    }
  }

  boolean wasHandled(long sequence) {
    lock.lock();
    try {
      return everHandled.contains(sequence);
    } finally {
      lock.unlock();
    }
  }

  void endRun(Checkpoint end, boolean crashed) {
    lock.lock();
    try {
      runs.add(new Run(runs.size(), currentStart, end, crashed, Set.copyOf(current)));
    } finally {
      lock.unlock();
    }
  }

  void commits(List<Checkpoint> history) {
    lock.lock();
    try {
      commits = List.copyOf(history);
    } finally {
      lock.unlock();
    }
  }

  /**
   * The runs, in order; the last one reached the end of the source.
   *
   * @return the runs
   */
  public List<Run> runs() {
    lock.lock();
    try {
      return List.copyOf(runs);
    } finally {
      lock.unlock();
    }
  }

  /**
   * How many simulated crashes happened.
   *
   * @return the count
   */
  public int crashes() {
    return (int) runs().stream().filter(Run::crashed).count();
  }

  /**
   * How many handler calls completed, replays included.
   *
   * @return the count
   */
  public long handled() {
    lock.lock();
    try {
      return handlings;
    } finally {
      lock.unlock();
    }
  }

  /**
   * How many batches were handled again after a crash: per crash, the batches its run handled
   * at or after the checkpoint the crash left durable.
   *
   * @return the sum over all crashes
   */
  public long replayed() {
    return runs().stream().filter(Run::crashed).mapToLong(this::replayOf).sum();
  }

  private long replayOf(Run run) {
    return run.handled().stream().filter(s -> s >= run.end().sequence()).count();
  }

  /**
   * Every batch of the source was handled at least once (at-least-once, G2).
   *
   * @throws AssertionError naming the first missing batch and the seed
   */
  public void assertEveryRecordHandled() {
    for (long s = 0; s < source.batches(); s++) {
      if (!wasHandled(s)) {
        throw failure("batch " + s + " (records " + source.batch(s) + ") was never handled");
      }
    }
  }

  /**
   * No crash left more than {@code depth} handled-but-uncommitted batches to be replayed (G3).
   *
   * @param depth the depth the harness ran with
   * @throws AssertionError naming the crash and the seed
   */
  public void assertReplayAtMost(int depth) {
    for (Run run : runs()) {
      long replay = replayOf(run);
      if (run.crashed() && replay > depth) {
        throw failure("the crash ending run " + run.number() + " left " + replay
            + " handled batches uncommitted (checkpoint " + run.end().sequence() + "), more"
            + " than depth " + depth);
      }
    }
  }

  /**
   * The checkpoint only moved forward, and every batch below each committed checkpoint had
   * been handled (G1).
   *
   * @throws AssertionError naming the commit and the seed
   */
  public void assertCommitsInOrder() {
    List<Checkpoint> history;
    lock.lock();
    try {
      history = commits;
    } finally {
      lock.unlock();
    }
    long previous = 0;
    for (Checkpoint c : history) {
      if (c.sequence() <= previous && previous > 0) {
        throw failure("commit " + c + " did not move forward from " + previous);
      }
      for (long s = previous; s < c.sequence(); s++) {
        if (!wasHandled(s)) {
          throw failure("commit " + c + " covers batch " + s + ", which was never handled");
        }
      }
      previous = c.sequence();
    }
  }

  /**
   * All of the above.
   *
   * @param depth the depth the harness ran with
   */
  public void assertAll(int depth) {
    assertCommitsInOrder();
    assertEveryRecordHandled();
    assertReplayAtMost(depth);
  }

  private AssertionError failure(String what) {
    return new AssertionError(what + "; seed " + seed + ", rerun with the same harness and .seed("
        + seed + "L); " + summary());
  }

  /**
   * A one-line summary: crashes, handled, replayed.
   *
   * @return the summary
   */
  public String summary() {
    return crashes() + " crashes, " + handled() + " handler calls, " + replayed()
        + " batches replayed, " + runs().size() + " runs";
  }

  @Override
  public String toString() {
    return "Ledger[" + summary() + "]";
  }
}
