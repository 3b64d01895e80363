package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Batch;
import dev.collector.Checkpoint;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link CrashHarness} run did, run by run: the records of every batch each run handled, in
 * the order the handlers finished, which of them were replays, every failed handler attempt, where
 * each run started and where its crash left the durable checkpoint, every commit, and whether the
 * last run reached the end of the source. Its assertions check the guarantees a handler relies on;
 * every message and the {@link #summary()} carry the {@link #seed()}.
 *
 * <p>Two ledgers of the same seed, source and handler are equal run by run ({@link #runs()}) and
 * have the same summary: see {@link CrashHarness} for what a seed fixes.
 *
 * <p>Thread-safe.
 *
 * @param <T> the record type
 */
public final class Ledger<T> {

  /**
   * One failed handler attempt. Built by the testkit only; read it through its accessors. A final
   * class, not a record (ADR 0008), so a field can be added without breaking callers. Immutable;
   * equal when every field is.
   */
  public static final class FailedAttempt {
    private final long sequence;
    private final int attempt;
    private final boolean replay;
    private final String failure;

    FailedAttempt(long sequence, int attempt, boolean replay, String failure) {
      this.sequence = sequence;
      this.attempt = attempt;
      this.replay = replay;
      this.failure = Objects.requireNonNull(failure, "failure");
    }

    /**
     * The batch.
     *
     * @return its sequence
     */
    public long sequence() {
      return sequence;
    }

    /**
     * Which attempt of the batch failed.
     *
     * @return the attempt, from 1
     */
    public int attempt() {
      return attempt;
    }

    /**
     * Whether an earlier run had handled the batch already.
     *
     * @return {@code true} for a replayed batch
     */
    public boolean replay() {
      return replay;
    }

    /**
     * What the handler threw.
     *
     * @return its {@code toString()}
     */
    public String failure() {
      return failure;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof FailedAttempt f
          && sequence == f.sequence
          && attempt == f.attempt
          && replay == f.replay
          && failure.equals(f.failure);
    }

    @Override
    public int hashCode() {
      return Objects.hash(sequence, attempt, replay, failure);
    }

    /** The record format: {@code FailedAttempt[sequence=3, attempt=1, replay=false, ...]}. */
    @Override
    public String toString() {
      return "FailedAttempt[sequence="
          + sequence
          + ", attempt="
          + attempt
          + ", replay="
          + replay
          + ", failure="
          + failure
          + "]";
    }
  }

  /**
   * One run: from an open at {@link #start()} until a crash, a failure or the end of the source.
   * Built by the testkit only; read it through its accessors. A final class, not a record (ADR
   * 0008), so a field can be added without breaking callers. Immutable; equal when every field is
   * (two ledgers of one seed have equal runs).
   *
   * @param <T> the record type
   */
  public static final class Run<T> {
    private final int number;
    private final Checkpoint start;
    private final Checkpoint end;
    private final boolean crashed;
    private final List<Long> completed;
    private final Map<Long, List<T>> records;
    private final Set<Long> replayed;
    private final List<FailedAttempt> failedAttempts;

    /** Copies the collections. */
    Run(
        int number,
        Checkpoint start,
        Checkpoint end,
        boolean crashed,
        List<Long> completed,
        Map<Long, List<T>> records,
        Set<Long> replayed,
        List<FailedAttempt> failedAttempts) {
      this.number = number;
      this.start = Objects.requireNonNull(start, "start");
      this.end = Objects.requireNonNull(end, "end");
      this.crashed = crashed;
      this.completed = List.copyOf(completed);
      this.records = Collections.unmodifiableMap(new TreeMap<>(records));
      this.replayed = Collections.unmodifiableSet(new TreeSet<>(replayed));
      this.failedAttempts = List.copyOf(failedAttempts);
    }

    /**
     * The run's number.
     *
     * @return 0 for the first run
     */
    public int number() {
      return number;
    }

    /**
     * The checkpoint the run started at.
     *
     * @return the checkpoint
     */
    public Checkpoint start() {
      return start;
    }

    /**
     * The durable checkpoint when the run ended.
     *
     * @return the checkpoint
     */
    public Checkpoint end() {
      return end;
    }

    /**
     * Whether the store's crash switch ended the run.
     *
     * @return {@code true} for a simulated crash
     */
    public boolean crashed() {
      return crashed;
    }

    /**
     * The batches whose handler returned, in the order they returned.
     *
     * @return their sequences, unmodifiable
     */
    public List<Long> completed() {
      return completed;
    }

    /**
     * The records of each batch in {@link #completed()}.
     *
     * @return records by sequence, in sequence order, unmodifiable
     */
    public Map<Long, List<T>> records() {
      return records;
    }

    /**
     * The batches in {@link #completed()} that an earlier run had handled already.
     *
     * @return their sequences, in order, unmodifiable
     */
    public Set<Long> replayed() {
      return replayed;
    }

    /**
     * The handler attempts that threw (the run's own cancellation excluded).
     *
     * @return them, in the order they failed, unmodifiable
     */
    public List<FailedAttempt> failedAttempts() {
      return failedAttempts;
    }

    /**
     * The handled batches this run left uncommitted: those at or after its end checkpoint, which
     * the next run delivers again.
     *
     * @return how many
     */
    public long leftUncommitted() {
      return completed.stream().filter(s -> s >= end.sequence()).distinct().count();
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof Run<?> r
          && number == r.number
          && start.equals(r.start)
          && end.equals(r.end)
          && crashed == r.crashed
          && completed.equals(r.completed)
          && records.equals(r.records)
          && replayed.equals(r.replayed)
          && failedAttempts.equals(r.failedAttempts);
    }

    @Override
    public int hashCode() {
      return Objects.hash(
          number, start, end, crashed, completed, records, replayed, failedAttempts);
    }

    /** The record format: {@code Run[number=0, start=..., end=..., crashed=true, ...]}. */
    @Override
    public String toString() {
      return "Run[number="
          + number
          + ", start="
          + start
          + ", end="
          + end
          + ", crashed="
          + crashed
          + ", completed="
          + completed
          + ", records="
          + records
          + ", replayed="
          + replayed
          + ", failedAttempts="
          + failedAttempts
          + "]";
    }
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final long seed;
  private final int depth;
  private final int crashesRequested;
  private final @Nullable List<T> expectedRecords;
  private final long expectedCount;

  @GuardedBy("lock")
  private final List<Run<T>> runs = new ArrayList<>();

  /** The first records handled under each sequence. */
  @GuardedBy("lock")
  private final Map<Long, List<T>> firstRecords = new HashMap<>();

  /** Which run first handled each sequence. */
  @GuardedBy("lock")
  private final Map<Long, Integer> firstRun = new HashMap<>();

  /**
   * The batches the failure policy's dead-letter handler took (and returned from), with their
   * records; a dead-lettered batch is settled, so a commit may pass it.
   */
  @GuardedBy("lock")
  private final Map<Long, List<?>> deadLettered = new TreeMap<>();

  @GuardedBy("lock")
  private final List<String> inconsistencies = new ArrayList<>();

  @GuardedBy("lock")
  private int runNumber = -1;

  @GuardedBy("lock")
  private Checkpoint currentStart = Checkpoint.INITIAL;

  @GuardedBy("lock")
  private List<Long> completed = new ArrayList<>();

  @GuardedBy("lock")
  private Map<Long, List<T>> records = new LinkedHashMap<>();

  @GuardedBy("lock")
  private Set<Long> replayed = new HashSet<>();

  @GuardedBy("lock")
  private List<FailedAttempt> failed = new ArrayList<>();

  @GuardedBy("lock")
  private long handlings;

  @GuardedBy("lock")
  private boolean reachedEnd;

  @GuardedBy("lock")
  private List<Checkpoint> commits = List.of();

  Ledger(
      long seed,
      int depth,
      int crashesRequested,
      @Nullable List<T> expectedRecords,
      long expectedCount) {
    this.seed = seed;
    this.depth = depth;
    this.crashesRequested = crashesRequested;
    this.expectedRecords = expectedRecords == null ? null : List.copyOf(expectedRecords);
    this.expectedCount = expectedCount;
  }

  void startRun(Checkpoint start) {
    lock.lock();
    try {
      runNumber++;
      currentStart = start;
      completed = new ArrayList<>();
      records = new LinkedHashMap<>();
      replayed = new HashSet<>();
      failed = new ArrayList<>();
    } finally {
      lock.unlock();
    }
  }

  /** Whether an earlier run handled {@code sequence} (for failure messages, from handlers). */
  boolean isReplay(long sequence) {
    lock.lock();
    try {
      Integer first = firstRun.get(sequence);
      return first != null && first < runNumber;
    } finally {
      lock.unlock();
    }
  }

  /** The run that first handled {@code sequence}, or -1. */
  int firstRunOf(long sequence) {
    lock.lock();
    try {
      return firstRun.getOrDefault(sequence, -1);
    } finally {
      lock.unlock();
    }
  }

  void handled(Batch<T> batch) {
    lock.lock();
    try {
      long s = batch.sequence();
      handlings++;
      completed.add(s);
      records.put(s, batch.records());
      Integer first = firstRun.putIfAbsent(s, runNumber);
      if (first != null && first < runNumber) {
        replayed.add(s);
        List<T> before = firstRecords.get(s);
        if (before != null && !before.equals(batch.records()) && inconsistencies.size() < 10) {
          inconsistencies.add(
              "batch "
                  + s
                  + " replayed by run "
                  + runNumber
                  + " holds "
                  + abbreviate(batch.records())
                  + " but run "
                  + first
                  + " handled "
                  + abbreviate(before)
                  + " under that sequence: the source did not resume where its"
                  + " resume token said");
        }
      } else {
        firstRecords.put(s, batch.records());
      }
    } finally {
      lock.unlock();
    }
  }

  void failedAttempt(Batch<T> batch, Throwable failure) {
    lock.lock();
    try {
      failed.add(
          new FailedAttempt(
              batch.sequence(), batch.attempt(), isReplay(batch.sequence()), failure.toString()));
    } finally {
      lock.unlock();
    }
  }

  /** The dead-letter handler took {@code batch} and returned: the batch is settled. */
  void deadLettered(Batch<?> batch) {
    lock.lock();
    try {
      deadLettered.putIfAbsent(
          batch.sequence(),
          java.util.Collections.unmodifiableList(new ArrayList<>(batch.records())));
    } finally {
      lock.unlock();
    }
  }

  /** Whether {@code sequence} was settled: handled by some run, or dead-lettered. */
  boolean wasSettled(long sequence) {
    lock.lock();
    try {
      return firstRun.containsKey(sequence) || deadLettered.containsKey(sequence);
    } finally {
      lock.unlock();
    }
  }

  void endRun(Checkpoint end, boolean crashed) {
    lock.lock();
    try {
      runs.add(
          new Run<>(runNumber, currentStart, end, crashed, completed, records, replayed, failed));
    } finally {
      lock.unlock();
    }
  }

  void finish(List<Checkpoint> history, boolean reachedEnd) {
    lock.lock();
    try {
      this.commits = List.copyOf(history);
      this.reachedEnd = reachedEnd;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The seed of the harness run: pass it to {@link CrashHarness#seed(long)} (or {@code
   * -Dcollector.seed}) to get the same ledger again.
   *
   * @return the seed
   */
  public long seed() {
    return seed;
  }

  /**
   * The depth the harness ran with; {@link #assertAll()} checks the replay bound against it.
   *
   * @return the depth
   */
  public int depth() {
    return depth;
  }

  /**
   * The runs, in order; the last one reached the end of the source if {@link #reachedEnd()}.
   *
   * @return the runs
   */
  public List<Run<T>> runs() {
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
   * How many handler calls returned normally, replays included.
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
   * How many batches were handled again by a later run (replays), over all runs.
   *
   * @return the count
   */
  public long replayed() {
    return runs().stream().mapToLong(r -> r.replayed().size()).sum();
  }

  /**
   * Whether the last run returned normally at the end of the source (not stopped, not failed).
   *
   * @return {@code true} if the source was read to its end
   */
  public boolean reachedEnd() {
    lock.lock();
    try {
      return reachedEnd;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The batches the failure policy's dead-letter handler took (its handler failed every attempt,
   * and the dead-letter handler returned), in sequence order. They are settled: a commit may pass
   * them, and {@link #assertCommitsInOrder()} accepts that. A batch that a later run handled after
   * all (a replay after a crash) is listed here and in {@link #records()}.
   *
   * @return the sequences, empty if none
   */
  public Set<Long> deadLettered() {
    lock.lock();
    try {
      return java.util.Collections.unmodifiableSet(new TreeSet<>(deadLettered.keySet()));
    } finally {
      lock.unlock();
    }
  }

  /**
   * The records handled under each sequence, as first handled, in sequence order.
   *
   * @return a copy
   */
  public Map<Long, List<T>> records() {
    lock.lock();
    try {
      return java.util.Collections.unmodifiableMap(new TreeMap<>(firstRecords));
    } finally {
      lock.unlock();
    }
  }

  /**
   * The last run reached the end of the source.
   *
   * @throws AssertionError with the seed, if it did not
   */
  public void assertReachedEnd() {
    if (!reachedEnd()) {
      throw failure("the last run did not reach the end of the source");
    }
  }

  /**
   * Every record the harness was told to expect was handled at least once (at-least-once, G2), and
   * nothing else was: with {@link CrashHarness#expecting}, no record outside the expected ones;
   * with {@link CrashHarness#expectingCount}, exactly that many records over the distinct batches.
   * Also checks that a replayed batch held the same records as its first handling (a source that
   * resumes elsewhere than its token says fails here). A dead-lettered batch was not handled: its
   * records fail this check (the message says the batch was dead-lettered), so a test with a poison
   * batch checks the others with {@link #assertCommitsInOrder()}, {@link #assertReplayAtMost(int)},
   * {@link #assertReachedEnd()} and {@link #deadLettered()}.
   *
   * @throws AssertionError naming the first missing or unexpected record and the seed
   */
  public void assertEveryRecordHandled() {
    Map<Long, List<T>> handled = records();
    List<String> wrong;
    lock.lock();
    try {
      wrong = List.copyOf(inconsistencies);
    } finally {
      lock.unlock();
    }
    if (!wrong.isEmpty()) {
      throw failure(wrong.get(0));
    }
    List<T> expected = expectedRecords;
    if (expected != null) {
      Set<T> seen = new HashSet<>();
      handled.values().forEach(seen::addAll);
      for (T record : expected) {
        if (!seen.contains(record)) {
          throw failure(
              "record "
                  + record
                  + " was never handled"
                  + deadLetteredIn(record)
                  + " ("
                  + seen.size()
                  + " distinct records were)");
        }
      }
      Set<T> wanted = new HashSet<>(expected);
      for (Map.Entry<Long, List<T>> e : handled.entrySet()) {
        for (T record : e.getValue()) {
          if (!wanted.contains(record)) {
            throw failure(
                "batch " + e.getKey() + " held record " + record + ", which was not" + " expected");
          }
        }
      }
    } else if (expectedCount >= 0) {
      long count = handled.values().stream().mapToLong(List::size).sum();
      if (count != expectedCount) {
        throw failure(
            "the distinct batches handled held " + count + " records, expected " + expectedCount);
      }
    }
  }

  /**
   * No crash left more than {@code depth} handled-but-uncommitted batches to be replayed (G3).
   *
   * @param depth the bound to check against; {@link #assertAll()} uses {@link #depth()}
   * @throws AssertionError naming the crash and the seed
   */
  public void assertReplayAtMost(int depth) {
    for (Run<T> run : runs()) {
      long replay = run.leftUncommitted();
      if (run.crashed() && replay > depth) {
        throw failure(
            "the crash ending run "
                + run.number()
                + " left "
                + replay
                + " handled batches uncommitted (checkpoint "
                + run.end().sequence()
                + "), more"
                + " than depth "
                + depth);
      }
    }
  }

  private String deadLetteredIn(Object record) {
    lock.lock();
    try {
      for (Map.Entry<Long, List<?>> e : deadLettered.entrySet()) {
        if (e.getValue().contains(record)) {
          return ": batch " + e.getKey() + ", which held it, was dead-lettered";
        }
      }
      return "";
    } finally {
      lock.unlock();
    }
  }

  /**
   * The checkpoint only moved forward, and every batch below each committed checkpoint had been
   * settled (G1): handled, or dead-lettered by the failure policy ({@link #deadLettered()}).
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
        if (!wasSettled(s)) {
          throw failure(
              "commit "
                  + c
                  + " covers batch "
                  + s
                  + ", which was never handled nor"
                  + " dead-lettered"
                  + deadLetteredNote());
        }
      }
      previous = c.sequence();
    }
  }

  /**
   * All of the above, with the depth the harness ran with: commits in order, every expected record
   * handled and nothing else, replay at most {@link #depth()} per crash, the end of the source
   * reached.
   *
   * @throws AssertionError with the seed and the summary
   */
  public void assertAll() {
    assertCommitsInOrder();
    assertEveryRecordHandled();
    assertReplayAtMost(depth);
    assertReachedEnd();
  }

  /** ", dead-lettered [3, 7]" if any batch was, else empty. */
  private String deadLetteredNote() {
    Set<Long> dead = deadLettered();
    return dead.isEmpty() ? "" : " (dead-lettered: " + dead + ")";
  }

  AssertionError failure(String what) {
    return new AssertionError(what + "; " + rerun(seed) + "; " + summary());
  }

  static String rerun(long seed) {
    return "seed "
        + seed
        + " (rerun with CrashHarness.seed("
        + seed
        + "L), or with -D"
        + CrashHarness.SEED_PROPERTY
        + "="
        + seed
        + " where the test sets no seed)";
  }

  /**
   * A one-line summary that starts with the seed: crashes, runs, handler calls, replays, the
   * dead-lettered batches (if any), the final checkpoint and whether the source's end was reached.
   *
   * @return the summary
   */
  public String summary() {
    List<Run<T>> all = runs();
    long finalSequence = all.isEmpty() ? 0 : all.get(all.size() - 1).end().sequence();
    return "seed "
        + seed
        + ": "
        + crashes()
        + " of "
        + crashesRequested
        + " crashes, "
        + all.size()
        + " runs, "
        + handled()
        + " handler calls, "
        + replayed()
        + " batches replayed"
        + deadLetteredSummary()
        + ", depth "
        + depth
        + ", checkpoint "
        + finalSequence
        + (reachedEnd() ? " (end of source)" : " (end of source NOT reached)");
  }

  private String deadLetteredSummary() {
    Set<Long> dead = deadLettered();
    return dead.isEmpty() ? "" : ", " + dead.size() + " dead-lettered " + dead;
  }

  @Override
  public String toString() {
    return "Ledger[" + summary() + "]";
  }

  private static String abbreviate(List<?> records) {
    String s = records.toString();
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}
