package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Batch;
import dev.collector.BatchHandler;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Runs a handler through crashes: a collector over your {@link BatchSource} and a {@link
 * RecordingCheckpointStore} is "killed" at seeded checkpoints (the store's crash switch refuses the
 * commit that reaches the crash point and freezes what is durable, as a dead process leaves it), a
 * new collector is opened on what survived, and so on until the source is done. The harness holds
 * every batch and releases one at a time in a seeded order, so batches finish out of order (or in
 * order, with {@link #inOrder()}). The {@link Ledger} it returns records every handled batch and
 * checks the guarantees.
 *
 * {@snippet class=dev.collector.core.TestkitJavadocExamplesTest region=crashHarness}
 *
 * <p><b>Your own source.</b> Say what it yields: {@link #expecting(Collection)} (every record, each
 * handled at least once, nothing else) or {@link #expectingCount(long)}. A {@link FakeSource} needs
 * neither: its records are known.
 *
 * <p><b>What a seed fixes.</b> With the same seed, source and handler behaviour, two runs give
 * equal ledgers ({@link Ledger#runs()}, {@link Ledger#summary()}): the crash points, as sequences
 * (crash {@code k} refuses the commit that would take the checkpoint to or past {@code start + 1 +
 * random(2 * depth)}, drawn from the seed, where {@code start} is the checkpoint run {@code k}
 * began at; the checkpoint before it stays durable), and the completion order (after each step the
 * harness waits until the window is full, or the source ended, and every fetched batch's handler
 * has started; then it releases one held batch, drawn from the seed, waits for it to finish and for
 * the commit it allows). What a seed cannot fix: what your handler or source does on its own (its
 * own randomness or clock), and a fault policy's backoff times (timing only, not outcomes). Without
 * {@link #seed(long)} the seed is {@code -Dcollector.seed} if set, else drawn at random; it is in
 * every summary and assertion message. The property is a decimal {@code long}, with an optional
 * trailing {@code L} ({@code -Dcollector.seed=42L}, as the messages print it); any other value
 * makes {@link #over} throw {@link IllegalArgumentException} rather than run with a random seed.
 *
 * <p><b>Options it overrides.</b> Commit retries are off (a crashed store stays dead), {@code
 * concurrency} is the depth, {@code batchTimeout} and {@code stuckThreshold} are off (held batches
 * are neither timed out nor reported stuck); the rest of {@link #options(CollectorOptions)}
 * applies.
 *
 * <p>Not thread-safe: configure and run it from one thread.
 *
 * @param <T> the record type
 */
public final class CrashHarness<T> {

  /** The system property that sets the seed of harnesses whose test sets none. */
  public static final String SEED_PROPERTY = "collector.seed";

  private final BatchSource<T> source;
  private final CollectorFactory<T> factory;
  private int depth = 8;
  private int crashes = 5;
  private long seed;
  private boolean inOrder;
  private Duration stepTimeout = Duration.ofSeconds(30);
  private @Nullable List<T> expectedRecords;
  private long expectedCount = -1;
  private CollectorOptions options = CollectorOptions.defaults();

  private CrashHarness(BatchSource<T> source, CollectorFactory<T> factory) {
    this.source = source;
    this.factory = factory;
    Long property = seedProperty();
    this.seed = property != null ? property : new SplittableRandom().nextLong();
  }

  /**
   * The seed {@code -Dcollector.seed} asks for: a decimal {@code long}, optionally with a trailing
   * {@code L} or {@code l} as the messages print it ({@code seed(42L)}).
   *
   * @throws IllegalArgumentException if the property is set but is not such a number: a seed the
   *     user asked for is never silently replaced by a random one
   */
  private static @Nullable Long seedProperty() {
    String value = System.getProperty(SEED_PROPERTY);
    if (value == null) {
      return null;
    }
    String digits = value.strip();
    if (digits.endsWith("L") || digits.endsWith("l")) {
      digits = digits.substring(0, digits.length() - 1);
    }
    try {
      return Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "-D"
              + SEED_PROPERTY
              + "="
              + value
              + " is not a seed:"
              + " expected a long such as 42 or 42L",
          e);
    }
  }

  /**
   * A harness over {@code source}, opening collectors with {@code factory}.
   *
   * @param source the source under test, or a {@link FakeSource} to test a handler
   * @param factory {@code Collecting::open}, or a lambda
   * @param <T> the record type
   * @return the harness
   * @throws IllegalArgumentException if {@code -Dcollector.seed} is set but is not a {@code long}
   *     (optionally ending in {@code L})
   */
  public static <T> CrashHarness<T> over(BatchSource<T> source, CollectorFactory<T> factory) {
    return new CrashHarness<>(source, factory);
  }

  /**
   * Says what the source yields: every one of {@code records} must be handled at least once, and no
   * other record may be. Needed for a source other than a {@link FakeSource}.
   *
   * @param records the records, in any order
   * @return this harness
   */
  public CrashHarness<T> expecting(Collection<? extends T> records) {
    this.expectedRecords = List.copyOf(records);
    this.expectedCount = -1;
    return this;
  }

  /**
   * Says how many records the source yields, when they are too many to list: the distinct batches
   * handled must hold exactly {@code records} records.
   *
   * @param records the count
   * @return this harness
   */
  public CrashHarness<T> expectingCount(long records) {
    if (records < 0) {
      throw new IllegalArgumentException("records must be >= 0, was " + records);
    }
    this.expectedCount = records;
    this.expectedRecords = null;
    return this;
  }

  /**
   * Sets the depth each run processes with (default 8).
   *
   * @param depth the depth
   * @return this harness
   */
  public CrashHarness<T> depth(int depth) {
    this.depth = CollectorOptions.checkDepth(depth);
    return this;
  }

  /**
   * Sets how many crashes to attempt (default 5); fewer happen if the source ends first, which the
   * ledger's summary shows ("3 of 10 crashes").
   *
   * @param crashes the count
   * @return this harness
   */
  public CrashHarness<T> crashes(int crashes) {
    if (crashes < 0) {
      throw new IllegalArgumentException("crashes must be >= 0, was " + crashes);
    }
    this.crashes = crashes;
    return this;
  }

  /**
   * Sets the seed of crash points and completion order (default: {@code -Dcollector.seed}, else
   * random; the ledger prints it).
   *
   * @param seed the seed
   * @return this harness
   */
  public CrashHarness<T> seed(long seed) {
    this.seed = seed;
    return this;
  }

  /**
   * Releases held batches in sequence order instead of a seeded shuffle: handlers still run
   * concurrently (up to the depth), but they finish strictly in order.
   *
   * @return this harness
   */
  public CrashHarness<T> inOrder() {
    this.inOrder = true;
    return this;
  }

  /**
   * Sets how long one step may take (a batch to start, finish or be committed) before the run fails
   * with the seed and what it waited for (default 30 seconds).
   *
   * @param timeout the limit per step
   * @return this harness
   */
  public CrashHarness<T> stepTimeout(Duration timeout) {
    this.stepTimeout = timeout;
    return this;
  }

  /**
   * Sets the collector options (failure policy, name, ...); see the class comment for the ones the
   * harness overrides.
   *
   * @param options the options
   * @return this harness
   */
  public CrashHarness<T> options(CollectorOptions options) {
    this.options = options;
    return this;
  }

  /**
   * Runs {@code handler} through the crashes until the source is done.
   *
   * @param handler the handler under test
   * @return the ledger of what happened
   * @throws InterruptedException if interrupted
   * @throws IllegalStateException if the source is not a {@link FakeSource} and neither {@link
   *     #expecting} nor {@link #expectingCount} was called
   * @throws AssertionError if a run failed for another reason than a crash, saying whether the
   *     failing batch was a replay, with the seed
   */
  public Ledger<T> run(BatchHandler<T> handler) throws InterruptedException {
    if (expectedRecords == null && expectedCount < 0 && source instanceof FakeSource<T> fake) {
      List<T> all = new ArrayList<>();
      for (long b = 0; b < fake.batches(); b++) {
        all.addAll(fake.batch(b));
      }
      expectedRecords = all;
    }
    if (expectedRecords == null && expectedCount < 0) {
      throw new IllegalStateException(
          "say what the source yields: expecting(records) or"
              + " expectingCount(n) (a FakeSource needs neither)");
    }
    var ledger = new Ledger<T>(seed, depth, crashes, expectedRecords, expectedCount);
    var random = new SplittableRandom(seed);
    var store =
        new RecordingCheckpointStore(
            null,
            (previous, next) -> {
              for (long s = previous.sequence(); s < next.sequence(); s++) {
                if (!ledger.wasSettled(s)) {
                  throw new AssertionError(
                      "commit "
                          + next
                          + " covers batch "
                          + s
                          + ", neither"
                          + " handled nor dead-lettered; "
                          + Ledger.rerun(seed));
                }
              }
            });
    int crashed = 0;
    while (true) {
      Checkpoint start = store.current();
      long crashAt = Long.MAX_VALUE;
      if (crashed < crashes) {
        crashAt = start.sequence() + 1 + random.nextLong(2L * depth);
      }
      ledger.startRun(start);
      var script =
          new Script(start.sequence(), crashAt, store, new SplittableRandom(random.nextLong()));
      Outcome outcome = runOnce(script, store, ledger, handler);
      boolean crash = store.isCrashed(); // the crash switch decides, never an exception
      store.assertNoViolation();
      ledger.endRun(store.current(), crash);
      if (crash) {
        crashed++;
        store.restart();
        continue;
      }
      if (outcome.failure != null) {
        throw runFailed(ledger, script, outcome.failure);
      }
      ProcessSummary summary = outcome.summary;
      boolean end = summary != null && !summary.stopped();
      ledger.finish(store.history(), end);
      if (!end) {
        throw ledger.failure(
            "run "
                + ledger.runs().size()
                + " returned "
                + summary
                + " without reaching the end of the source");
      }
      return ledger;
    }
  }

  private record Outcome(@Nullable ProcessSummary summary, @Nullable Throwable failure) {}

  private record FailedForGood(Batch<?> batch, Throwable failure) {}

  private Outcome runOnce(
      Script script, RecordingCheckpointStore store, Ledger<T> ledger, BatchHandler<T> handler)
      throws InterruptedException {
    CollectorOptions runOptions =
        options.toBuilder()
            .commitRetry(Retry.NONE)
            .concurrency(0)
            .batchTimeout(Duration.ZERO)
            .stuckThreshold(Duration.ZERO)
            .failurePolicy(signalling(options.failurePolicy(), script, ledger))
            .build();
    Collector<T> collector = factory.open(script.source(source), script.store(store), runOptions);
    BatchHandler<T> held =
        batch -> {
          script.awaitRelease(batch.sequence());
          try {
            handler.handle(batch);
          } catch (Throwable t) {
            if (!(t instanceof InterruptedException && script.isEnding())) {
              ledger.failedAttempt(batch, t);
              script.failed(batch, t, options.failurePolicy());
            }
            script.finished(batch.sequence(), false);
            throw t;
          }
          ledger.handled(batch);
          script.finished(batch.sequence(), true);
        };
    try (CollectorRun run = CollectorRun.start(collector, depth, held)) {
      run.onEnd(script::ended);
      script.drive(depth, inOrder, stepTimeout, ledger);
      script.ending();
      if (store.isCrashed()) {
        return new Outcome(null, null); // close() below ends what is left of the run
      }
      try {
        return new Outcome(run.result().get(), null);
      } catch (ExecutionException e) {
        return new Outcome(null, e.getCause() == null ? e : e.getCause());
      }
    }
  }

  /**
   * Wraps the user's dead-letter handler: once it returns, the batch is settled, for the script
   * (the frontier may pass it) and for the ledger (a commit past it is legal, and it is listed as
   * dead-lettered). The ledger learns it before the engine may commit past the batch.
   */
  private FailurePolicy signalling(FailurePolicy policy, Script script, Ledger<T> ledger) {
    DeadLetterHandler deadLetter = policy.deadLetter();
    if (deadLetter == null) {
      return policy;
    }
    return policy.thenDeadLetter(
        (batch, cause) -> {
          deadLetter.deadLetter(batch, cause);
          ledger.deadLettered(batch);
          script.settledWithoutAck(batch.sequence());
        });
  }

  /**
   * The message of a run that failed without a simulated crash. It names a batch only if that batch
   * failed for good (its last attempt, no dead-letter handler) and so ended the run; a batch that
   * failed an attempt and then succeeded on a retry is not the cause.
   */
  private AssertionError runFailed(Ledger<T> ledger, Script script, Throwable failure) {
    Batch<?> batch = script.failedForGood(failure);
    String what;
    if (batch != null) {
      long s = batch.sequence();
      int first = ledger.firstRunOf(s);
      boolean replay = first >= 0 && first < ledger.runs().size() - 1;
      what =
          "the handler failed on batch "
              + s
              + " (attempt "
              + batch.attempt()
              + ")"
              + (replay
                  ? ", a replay: run "
                      + first
                      + " had handled it before a crash left the checkpoint"
                      + " below it. A handler must tolerate being run again on a batch (make the"
                      + " write idempotent)"
                  : ", handled for the first time")
              + ": "
              + failure;
    } else {
      what = "run " + (ledger.runs().size() - 1) + " failed without a simulated crash: " + failure;
    }
    AssertionError e = ledger.failure(what);
    e.initCause(failure);
    return e;
  }

  /**
   * The state one run's script waits on: what was fetched, which handlers started, finished and
   * were released, commits, the end of the run. One lock, one condition; every event signals.
   */
  private final class Script {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final long base;
    private final long crashAt;
    private final RecordingCheckpointStore store;
    private final SplittableRandom random;

    @GuardedBy("lock")
    private long fetched;

    @GuardedBy("lock")
    private boolean endSeen;

    @GuardedBy("lock")
    private final Set<Long> started = new HashSet<>();

    @GuardedBy("lock")
    private final Set<Long> released = new HashSet<>();

    /** Returned normally, or dead-lettered. */
    @GuardedBy("lock")
    private final Set<Long> settled = new HashSet<>();

    /** Failed its last attempt without a dead-letter handler: the run is ending. */
    @GuardedBy("lock")
    private final Set<Long> failedForGood = new HashSet<>();

    /** The batches in {@link #failedForGood} with their last failure, in the order they failed. */
    @GuardedBy("lock")
    private final List<FailedForGood> lastFailures = new ArrayList<>();

    @GuardedBy("lock")
    private boolean ended;

    @GuardedBy("lock")
    private boolean ending;

    Script(long base, long crashAt, RecordingCheckpointStore store, SplittableRandom random) {
      this.base = base;
      this.crashAt = crashAt;
      this.fetched = base;
      this.store = store;
      this.random = random;
    }

    // Every event takes the lock, changes the state and signals, written out in each method
    // rather than passed to a helper as a lambda: Error Prone's @GuardedBy check cannot see that
    // a lambda's body runs under the lock.

    /** Wakes the waiters after a change they read from elsewhere (a commit: the store). */
    private void signalAll() {
      lock.lock();
      try {
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    void ended() {
      lock.lock();
      try {
        ended = true;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    void ending() {
      lock.lock();
      try {
        ending = true;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    boolean isEnding() {
      lock.lock();
      try {
        return ending;
      } finally {
        lock.unlock();
      }
    }

    void failed(Batch<?> batch, Throwable failure, FailurePolicy policy) {
      lock.lock();
      try {
        if (batch.attempt() >= policy.retry().maxAttempts() && policy.deadLetter() == null) {
          failedForGood.add(batch.sequence());
          lastFailures.add(new FailedForGood(batch, failure));
        }
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    /**
     * The batch that ended the run with {@code runFailure}: the one whose last failure is {@code
     * runFailure} or one of its causes, else the first batch that failed for good, else {@code
     * null} (the run failed for another reason: the source, the store, the collector).
     */
    @Nullable Batch<?> failedForGood(Throwable runFailure) {
      lock.lock();
      try {
        for (FailedForGood f : lastFailures) {
          Throwable t = runFailure;
          for (int depth = 0; t != null && depth < 32; depth++, t = t.getCause()) {
            if (t == f.failure()) {
              return f.batch();
            }
          }
        }
        return lastFailures.isEmpty() ? null : lastFailures.get(0).batch();
      } finally {
        lock.unlock();
      }
    }

    void finished(long sequence, boolean ok) {
      lock.lock();
      try {
        if (ok) {
          settled.add(sequence);
        }
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    void settledWithoutAck(long sequence) {
      finished(sequence, true);
    }

    /** Holds a handler until the script releases its batch (retries run straight through). */
    void awaitRelease(long sequence) throws InterruptedException {
      lock.lockInterruptibly();
      try {
        started.add(sequence);
        changed.signalAll();
        while (!released.contains(sequence)) {
          changed.await();
        }
      } finally {
        lock.unlock();
      }
    }

    /** The first sequence not settled: where the checkpoint goes once everything is committed. */
    @GuardedBy("lock")
    private long frontier() {
      long s = Math.max(base, store.current().sequence());
      while (settled.contains(s)) {
        s++;
      }
      return s;
    }

    @GuardedBy("lock")
    private boolean quiet(int depth) {
      if (!failedForGood.isEmpty()) {
        return false; // the run is failing: release nothing more, wait for it to end
      }
      for (long s : released) {
        if (!settled.contains(s)) {
          return false; // running, retrying or being dead-lettered
        }
      }
      long committed = store.current().sequence();
      if (committed < frontier()) {
        return false; // a commit is due
      }
      if (!endSeen && fetched < committed + depth) {
        return false; // the owner has room to fetch
      }
      for (long s = committed; s < fetched; s++) {
        if (!started.contains(s) && !released.contains(s)) {
          return false; // fetched, handler not started yet
        }
      }
      return true;
    }

    void drive(int depth, boolean inOrder, Duration timeout, Ledger<T> ledger)
        throws InterruptedException {
      Long last = null;
      while (true) {
        await(timeout, true, depth, "the window to fill after batch " + last, ledger);
        lock.lock();
        try {
          if (ended || store.isCrashed()) {
            return;
          }
          TreeSet<Long> held = new TreeSet<>(started);
          held.removeAll(released);
          if (held.isEmpty()) {
            break;
          }
          List<Long> candidates = new ArrayList<>(held);
          last = inOrder ? candidates.get(0) : candidates.get(random.nextInt(candidates.size()));
          long frontier = frontier();
          if (last == frontier) {
            long next = frontier + 1;
            while (settled.contains(next)) {
              next++;
            }
            if (next >= crashAt) {
              // This release takes the frontier to the crash point: the store refuses every
              // commit past the current checkpoint, so the crash leaves exactly it durable
              // (the committer may otherwise commit a point between the two first).
              store.crashAtSequence(frontier + 1);
            }
          }
          released.add(last);
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      }
      await(timeout, false, depth, "process() to return at the end", ledger);
    }

    /** Waits until the run ended (or crashed) or, with {@code orQuiet}, the window is quiet. */
    private void await(Duration timeout, boolean orQuiet, int depth, String what, Ledger<T> ledger)
        throws InterruptedException {
      long nanos = timeout.toNanos();
      lock.lock();
      try {
        while (!(ended || store.isCrashed() || (orQuiet && quiet(depth)))) {
          if (nanos <= 0) {
            throw ledger.failure(
                "timed out after "
                    + timeout
                    + " waiting for "
                    + what
                    + " (fetched through "
                    + fetched
                    + ", end seen "
                    + endSeen
                    + ", committed "
                    + store.current().sequence()
                    + ", held "
                    + held()
                    + ")");
          }
          nanos = changed.awaitNanos(nanos);
        }
      } finally {
        lock.unlock();
      }
    }

    @GuardedBy("lock")
    private Set<Long> held() {
      TreeSet<Long> held = new TreeSet<>(started);
      held.removeAll(released);
      return held;
    }

    /** The source, counting what the collector fetched and whether it saw the end. */
    BatchSource<T> source(BatchSource<T> delegate) {
      return token -> {
        SourceReader<T> reader = delegate.open(token);
        return new SourceReader<>() {
          @Override
          public @Nullable SourceBatch<T> next() throws Exception {
            SourceBatch<T> batch = reader.next();
            lock.lock();
            try {
              if (batch == null) {
                endSeen = true;
              } else {
                fetched++;
              }
              changed.signalAll();
            } finally {
              lock.unlock();
            }
            return batch;
          }

          @Override
          public void close() throws IOException {
            reader.close();
          }
        };
      };
    }

    /** The store, signalling every commit attempt. */
    CheckpointStore store(RecordingCheckpointStore delegate) {
      return new CheckpointStore() {
        @Override
        public @Nullable Checkpoint load() {
          return delegate.load();
        }

        @Override
        public void commit(Checkpoint checkpoint) throws IOException {
          try {
            delegate.commit(checkpoint);
          } finally {
            signalAll();
          }
        }
      };
    }
  }
}
