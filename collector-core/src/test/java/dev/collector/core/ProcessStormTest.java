package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.collector.Batch;
import dev.collector.BatchFailedException;
import dev.collector.BatchHandler;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceException;
import dev.collector.SourceReader;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeded failure-path storms of {@code process()} through the public API: random depth, concurrency
 * and commit interval; handlers with random latency and failures under random failure policies
 * (fail-fast, retry, retry then dead-letter, a dead-letter handler that throws or rethrows); a
 * store that is slow, fails commits or "crashes"; a source that fails fetches; and an interrupt of
 * the caller, {@code stop()} or {@code close()} fired at a random event. Each chain of runs shares
 * one store and ends with a clean run that must finish the source.
 *
 * <p>Invariants after every run: the outcome is a summary or one of the documented exceptions (G5
 * interrupt status kept), no hang; G1 every committed batch was settled in the run that committed
 * it and the history strictly increases; G9 the durable checkpoint covers at least the settled
 * prefix at the first event that ended the run and the exception names what is durable; G3
 * fetched-but-uncommitted stays within depth and handlers within concurrency; G4 no thread of the
 * run alive; across restarts every batch is handled at least once.
 *
 * <p>Reproduce with {@code -Dcollector.seed=N} (printed at start and in every failure). Five times
 * the chains when {@code CI} is set.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ProcessStormTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());
  private static final int SCALE = System.getenv("CI") != null ? 5 : 1;
  private static final int CHAINS = Integer.getInteger("collector.storm.chains", 60) * SCALE;

  /** Runs only this chain, CHAINS times, to reproduce a timing-dependent failure. */
  private static final int ONLY = Integer.getInteger("collector.storm.only", -1);

  private static final Duration HANG = Duration.ofSeconds(10);

  /** A run that did not end: the storm stops at the first. */
  static final class Hang extends AssertionError {
    private static final long serialVersionUID = 1L;

    Hang(String message) {
      super(message);
    }
  }

  enum Action {
    NONE,
    INTERRUPT,
    STOP,
    CLOSE,
    STOP_THEN_CLOSE
  }

  @Test
  void process_failurePathStorm_keepsG1G3G4G9AndResumes() throws Exception {
    System.out.println(
        "ProcessStormTest seed "
            + SEED
            + " (rerun with -Dcollector.seed="
            + SEED
            + "), "
            + CHAINS
            + " chains");
    long started = System.nanoTime();
    int runs = 0;
    Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
    List<String> problems = new ArrayList<>();
    for (int chain = 0; chain < CHAINS; chain++) {
      try {
        runs += new Chain(SEED, ONLY >= 0 ? ONLY : chain, outcomes).run();
      } catch (Hang e) {
        problems.add(e.getMessage()); // threads may still run: stop the storm here
        break;
      } catch (AssertionError e) {
        problems.add(e.getMessage()); // the chain's store is suspect now: go on with the next
      }
    }
    if (!problems.isEmpty()) {
      fail(
          problems.size()
              + " of "
              + CHAINS
              + " chains broke an invariant (seed "
              + SEED
              + ", rerun with -Dcollector.seed="
              + SEED
              + "):\n"
              + String.join("\n", problems.subList(0, Math.min(20, problems.size()))));
    }
    List<String> alive = CollectorLeakCheck.liveCollectorThreads();
    assertEquals(List.of(), alive, "seed " + SEED + ": collector threads alive after the storm");
    System.out.println(
        "ProcessStormTest seed "
            + SEED
            + ": "
            + runs
            + " runs in "
            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)
            + " ms, outcomes "
            + outcomes);
  }

  /** One store, a few stormy runs on it, then a clean run that must finish the source. */
  static final class Chain {
    final long seed;
    final String context;
    final SplittableRandom random;
    final int batches;
    final AtomicIntegerArray handledEver;
    final Map<String, AtomicInteger> outcomes;
    volatile @Nullable RunState current;
    final RecordingCheckpointStore store;
    final List<String> strays = new CopyOnWriteArrayList<>();
    final List<String> problems = new CopyOnWriteArrayList<>();

    Chain(long rootSeed, int chain, Map<String, AtomicInteger> outcomes) {
      this.seed = rootSeed ^ (chain * 0x9E3779B97F4A7C15L);
      this.context =
          "seed " + rootSeed + " (rerun with -Dcollector.seed=" + rootSeed + "), chain " + chain;
      this.random = new SplittableRandom(seed);
      this.batches = 10 + random.nextInt(150);
      this.handledEver = new AtomicIntegerArray(batches);
      this.outcomes = outcomes;
      this.store =
          new RecordingCheckpointStore(
              null,
              (previous, next) -> {
                RunState rs = current;
                if (rs != null) {
                  rs.checkCommit(previous, next);
                }
              });
    }

    int run() throws Exception {
      int stormy = 1 + random.nextInt(4);
      @Nullable RunState previous = null;
      for (int r = 0; r < stormy; r++) {
        boolean reuse = previous != null && !previous.closed && random.nextInt(3) == 0;
        if (previous != null && !previous.closed && !reuse) {
          previous.collector.close();
        }
        RunState rs = new RunState(this, r, random.split(), false, reuse ? previous : null);
        int storeDice = random.nextInt(10);
        if (storeDice == 0) {
          store.failNextCommits(1 + random.nextInt(3));
        } else if (storeDice == 1) {
          store.crashAtSequence(rs.start + 1 + random.nextInt(batches));
        }
        store.slowCommits(
            random.nextInt(4) == 0 ? Duration.ofNanos(random.nextLong(3_000_000)) : Duration.ZERO);
        try {
          rs.runOnce();
        } finally {
          store.restart();
          store.failNextCommits(0);
          store.slowCommits(Duration.ZERO);
        }
        previous = rs;
      }
      if (previous != null && !previous.closed) {
        previous.collector.close();
      }
      RunState clean = new RunState(this, stormy, random.split(), true, null);
      clean.runOnce();
      String where = context + " (" + batches + " batches): ";
      assertEquals(
          new Checkpoint(batches, Long.toString(batches)),
          store.current(),
          where + "the clean final run did not finish the source");
      for (int s = 0; s < batches; s++) {
        if (handledEver.get(s) == 0) {
          fail(where + "batch " + s + " was never handled or dead-lettered across restarts");
        }
      }
      List<Checkpoint> history = store.history();
      for (int i = 1; i < history.size(); i++) {
        if (history.get(i).sequence() <= history.get(i - 1).sequence()) {
          fail(where + "commit history does not strictly increase: " + history);
        }
      }
      clean.collector.close();
      problems.addAll(strays);
      if (!problems.isEmpty()) {
        fail(String.join("\n", problems));
      }
      return stormy + 1;
    }

    CheckpointStore store() {
      RecordingCheckpointStore delegate = store;
      return new CheckpointStore() {
        @Override
        public @Nullable Checkpoint load() {
          return delegate.load();
        }

        @Override
        public void commit(Checkpoint checkpoint) throws IOException {
          RunState rs = current;
          if (rs == null) {
            strays.add(context + ": G4: commit of " + checkpoint + " outside a run");
            throw new IOException("commit outside a run");
          }
          rs.commit(delegate, checkpoint);
        }
      };
    }

    BatchSource<Long> source(SplittableRandom random) {
      FakeSource<Long> fake = FakeSource.generated(batches, 1);
      double[] rates = {0, 0, 0.01, 0.05};
      fake.failRandomly(rates[random.nextInt(rates.length)], random.nextLong());
      FakeSource<Long> plain = FakeSource.generated(batches, 1);
      return token -> {
        RunState opener = current;
        SourceReader<Long> reader =
            opener != null && !opener.clean ? fake.open(token) : plain.open(token);
        return new SourceReader<>() {
          long next = token.isEmpty() ? 0 : Long.parseLong(token);

          @Override
          public @Nullable SourceBatch<Long> next() throws Exception {
            RunState rs = current;
            if (rs == null) {
              strays.add(context + ": G4: fetch of batch " + next + " outside a run");
              throw new IOException("fetch outside a run");
            }
            SourceBatch<Long> b = rs.fetch(reader, next);
            if (b != null) {
              next++;
            }
            return b;
          }

          @Override
          public void close() throws IOException {
            reader.close();
          }
        };
      };
    }
  }

  /** One process() run: its random settings, its workload and what it observed. */
  static final class RunState {
    final Chain chain;
    final String context;
    final SplittableRandom random;
    final boolean clean;
    final long runSeed;
    final int depth;
    final int concurrency;
    final int policyKind;
    final double handlerFailure;
    final double dlThrows;
    final Retry fetchRetry;
    final Retry commitRetry;
    final double commitFailure;
    final Action action;
    final long triggerAt;
    final Threads threads = new Threads();
    final long start;
    final AtomicIntegerArray settled; // 1 handled, 2 dead-lettered, in this run
    final AtomicInteger running = new AtomicInteger();
    final AtomicLong events = new AtomicLong();
    final AtomicLong lowerBound = new AtomicLong(Long.MAX_VALUE);
    final List<String> violations = new CopyOnWriteArrayList<>();
    final CountDownLatch fire = new CountDownLatch(1);
    final Map<Long, Integer> fetchFailures = new ConcurrentHashMap<>();
    final AtomicInteger commitFailuresInARow = new AtomicInteger();
    final ReentrantLock commitRandomLock = new ReentrantLock();
    final SplittableRandom commitRandom;
    final List<Long> terminalHandlerFailures = new CopyOnWriteArrayList<>();
    volatile boolean terminalSourceFailure;
    volatile boolean terminalCommitFailure;
    volatile boolean interruptSent;
    volatile boolean ended;
    volatile boolean closed;
    final CollectorOptions options;
    final Collector<Long> collector;

    RunState(
        Chain chain,
        int index,
        SplittableRandom random,
        boolean clean,
        @Nullable RunState template) {
      this.chain = chain;
      this.random = random;
      this.clean = clean;
      this.runSeed = random.nextLong();
      this.start = chain.store.current().sequence();
      this.settled = new AtomicIntegerArray(chain.batches);
      int[] depths = {1, 2, 7, 64};
      this.depth = depths[random.nextInt(depths.length)];
      int conc = random.nextInt(3) == 0 ? 0 : 1 + random.nextInt(depth);
      this.concurrency = template != null ? template.concurrency : conc;
      Duration commitInterval =
          random.nextBoolean() ? Duration.ZERO : Duration.ofNanos(random.nextLong(5_000_001));
      int kind = clean ? 0 : random.nextInt(4);
      this.policyKind = template != null ? template.policyKind : kind;
      double[] failureRates = {0, 0.005, 0.02, 0.1};
      this.handlerFailure = clean ? 0 : failureRates[random.nextInt(failureRates.length)];
      this.dlThrows = policyKind == 3 ? new double[] {0.1, 0.5}[random.nextInt(2)] : 0;
      Retry fetch = Retry.of(1 + random.nextInt(3), Duration.ZERO, Duration.ofMillis(1));
      Retry commit = Retry.of(1 + random.nextInt(3), Duration.ZERO, Duration.ofMillis(1));
      this.fetchRetry = template != null ? template.fetchRetry : fetch;
      this.commitRetry = template != null ? template.commitRetry : commit;
      double[] commitRates = {0, 0, 0.02, 0.2};
      this.commitFailure = clean ? 0 : commitRates[random.nextInt(commitRates.length)];
      this.commitRandom = random.split();
      Action[] actions = Action.values();
      this.action = clean ? Action.NONE : actions[random.nextInt(actions.length)];
      long remaining = chain.batches - start;
      this.triggerAt = 1 + random.nextLong(Math.max(1, 3 * remaining));
      this.context =
          chain.context
              + " run "
              + index
              + (clean ? " (clean)" : "")
              + ": depth "
              + depth
              + ", concurrency "
              + concurrency
              + ", interval "
              + commitInterval.toNanos()
              + " ns, policy "
              + policyKind
              + ", handlerFailure "
              + handlerFailure
              + ", dlThrows "
              + dlThrows
              + ", fetchRetry "
              + fetchRetry.maxAttempts()
              + ", commitRetry "
              + commitRetry.maxAttempts()
              + ", commitFailure "
              + commitFailure
              + ", action "
              + action
              + " at event "
              + triggerAt
              + ", start "
              + start
              + (template != null ? " (reusing the collector of the previous run)" : "");
      if (template != null) {
        this.options = template.options;
        this.collector = template.collector;
        return;
      }
      this.options =
          CollectorOptions.builder()
              .name("storm")
              .concurrency(concurrency)
              .commitInterval(commitInterval)
              .failurePolicy(policy())
              .fetchRetry(fetchRetry)
              .commitRetry(commitRetry)
              .drainTimeout(
                  new Duration[] {Duration.ZERO, Duration.ofMillis(1), Duration.ofSeconds(30)}
                      [random.nextInt(3)])
              .build();
      this.collector = Collecting.open(chain.source(random), chain.store(), options);
    }

    int effectiveLimit() {
      return options.concurrencyFor(depth);
    }

    FailurePolicy policy() {
      Retry retry =
          Retry.of(
              2 + random.nextInt(2),
              random.nextBoolean() ? Duration.ZERO : Duration.ofNanos(100_000),
              Duration.ofMillis(1));
      Chain c = chain;
      DeadLetterHandler dl =
          (batch, lastFailure) -> {
            RunState rs = c.current;
            if (rs == null) {
              throw new IllegalStateException("dead-letter handler called outside a run");
            }
            rs.deadLetter(batch, lastFailure);
          };
      return switch (policyKind) {
        case 0 -> FailurePolicy.failFast();
        case 1 -> FailurePolicy.retry(retry);
        case 2 -> FailurePolicy.retry(retry).thenDeadLetter(dl);
        default ->
            (random.nextBoolean() ? FailurePolicy.failFast() : FailurePolicy.retry(retry))
                .thenDeadLetter(dl);
      };
    }

    String where() {
      return context + ": ";
    }

    void violation(String message) {
      violations.add(where() + message);
    }

    /** The contiguous prefix of batches settled in this run, from its start. */
    long settledPrefix() {
      long s = start;
      while (s < chain.batches && settled.get((int) s) != 0) {
        s++;
      }
      return s;
    }

    /** Something that ends the run happens now: everything settled so far must be committed. */
    void snapshot() {
      long prefix = settledPrefix();
      lowerBound.accumulateAndGet(prefix, Math::min);
    }

    void event() {
      if (events.incrementAndGet() == triggerAt && action != Action.NONE) {
        snapshot();
        fire.countDown();
      }
    }

    SplittableRandom randomFor(long sequence, int attempt) {
      return new SplittableRandom(runSeed ^ (sequence * 0x9E3779B97F4A7C15L) ^ (attempt * 31L));
    }

    void handle(Batch<Long> batch) throws Exception {
      threads.record();
      long s = batch.sequence();
      int now = running.incrementAndGet();
      try {
        if (now > effectiveLimit()) {
          violation("G3: " + now + " handlers run at once, concurrency limit " + effectiveLimit());
        }
        int inFlight = collector.progress().inFlight();
        if (inFlight > depth) {
          violation("G3: progress().inFlight() " + inFlight + " > depth " + depth);
        }
        long ahead = s - chain.store.current().sequence();
        if (ahead >= depth) {
          violation("G3: batch " + s + " runs " + ahead + " ahead of the durable checkpoint");
        }
        if (s < start || s >= chain.batches) {
          violation("batch " + s + " outside [" + start + ", " + chain.batches + ")");
        }
        event();
        SplittableRandom r = randomFor(s, batch.attempt());
        int dice = r.nextInt(100);
        if (dice < 15) {
          LockSupport.parkNanos(r.nextLong(2_000_001));
        } else if (dice < 20) {
          Thread.sleep(Duration.ofNanos(r.nextLong(2_000_001)));
        }
        boolean permanent = randomFor(s, 0).nextDouble() < handlerFailure / 3;
        if (permanent || r.nextDouble() < handlerFailure) {
          boolean terminal =
              policyKind == 0 || (policyKind == 1 && batch.attempt() >= maxAttempts());
          if (terminal) {
            terminalHandlerFailures.add(s);
            snapshot();
          }
          throw r.nextBoolean()
              ? new IOException("injected failure of batch " + s + " attempt " + batch.attempt())
              : new IllegalStateException("injected failure of batch " + s);
        }
        settled.set((int) s, 1);
        chain.handledEver.incrementAndGet((int) s);
      } finally {
        running.decrementAndGet();
      }
    }

    int maxAttempts() {
      return options.failurePolicy().retry().maxAttempts();
    }

    void deadLetter(Batch<?> batch, Throwable lastFailure) throws Exception {
      threads.record();
      long s = batch.sequence();
      SplittableRandom r = randomFor(s, 1000 + batch.attempt());
      if (r.nextDouble() < dlThrows) {
        terminalHandlerFailures.add(s);
        snapshot();
        if (r.nextBoolean() && lastFailure instanceof Exception e) {
          throw e;
        }
        throw new IOException("dead-letter handler failed for batch " + s, lastFailure);
      }
      settled.set((int) s, 2);
      chain.handledEver.incrementAndGet((int) s);
    }

    /** G1 and G3 on every commit of this run. */
    void checkCommit(Checkpoint previous, Checkpoint next) {
      if (!Long.toString(next.sequence()).equals(next.resumeToken())) {
        violation("checkpoint token does not match its sequence: " + next);
      }
      for (long s = previous.sequence(); s < next.sequence(); s++) {
        if (s < start || settled.get((int) s) == 0) {
          String m =
              "G1: committed batch "
                  + s
                  + " that was not settled in this run ("
                  + previous
                  + " -> "
                  + next
                  + ")";
          violation(m);
          throw new AssertionError(m);
        }
      }
    }

    void commit(RecordingCheckpointStore delegate, Checkpoint checkpoint) throws IOException {
      threads.record();
      int inFlight = collector.progress().inFlight();
      if (inFlight > depth) {
        violation(
            "G3: progress().inFlight() "
                + inFlight
                + " > depth "
                + depth
                + " at commit of "
                + checkpoint);
      }
      event();
      boolean inject;
      commitRandomLock.lock();
      try {
        inject = commitRandom.nextDouble() < commitFailure;
      } finally {
        commitRandomLock.unlock();
      }
      try {
        if (inject) {
          throw new IOException("injected commit failure of " + checkpoint);
        }
        delegate.commit(checkpoint);
        commitFailuresInARow.set(0);
      } catch (IOException | RuntimeException | Error e) {
        if (commitFailuresInARow.incrementAndGet() >= commitRetry.maxAttempts()) {
          terminalCommitFailure = true;
        }
        throw e;
      }
    }

    @Nullable SourceBatch<Long> fetch(SourceReader<Long> reader, long next) throws Exception {
      threads.record();
      long ahead = next - chain.store.current().sequence();
      if (ahead >= depth && next < chain.batches) {
        violation("G3: fetching batch " + next + ", " + ahead + " ahead of the durable checkpoint");
      }
      event();
      try {
        SourceBatch<Long> b = reader.next();
        fetchFailures.remove(next);
        return b;
      } catch (IOException e) {
        int failures = fetchFailures.merge(next, 1, Integer::sum);
        if (failures >= fetchRetry.maxAttempts()) {
          terminalSourceFailure = true;
          snapshot();
        }
        throw e;
      }
    }

    void runOnce() throws Exception {
      chain.current = this;
      BatchHandler<Long> handler = this::handle;
      BackgroundRun run = BackgroundRun.start(collector, depth, handler);
      List<Throwable> actionFailures = new CopyOnWriteArrayList<>();
      Thread trigger =
          Thread.ofPlatform()
              .name("storm-trigger")
              .start(
                  () -> {
                    try {
                      fire.await();
                      if (ended) {
                        return;
                      }
                      switch (action) {
                        case INTERRUPT -> {
                          interruptSent = true;
                          run.owner.interrupt();
                        }
                        case STOP -> collector.stop();
                        case CLOSE -> {
                          closed = true;
                          collector.close();
                        }
                        case STOP_THEN_CLOSE -> {
                          collector.stop();
                          closed = true;
                          collector.close();
                        }
                        case NONE -> {}
                      }
                    } catch (CheckpointException expected) {
                      // close() may report a failed final commit
                    } catch (Throwable t) {
                      actionFailures.add(t);
                    }
                  });
      @Nullable ProcessSummary summary = null;
      @Nullable Throwable thrown = null;
      try {
        summary = run.await(HANG);
      } catch (TimeoutException e) {
        throw new Hang(
            where()
                + "process() hangs after "
                + HANG
                + "; progress "
                + collector.progress()
                + "; collector threads "
                + CollectorLeakCheck.liveCollectorThreads());
      } catch (AssertionError e) {
        if (!"process() threw".equals(e.getMessage())) {
          throw e;
        }
        thrown = e.getCause();
      }
      run.owner.join(HANG.toMillis());
      ended = true;
      fire.countDown();
      trigger.join(HANG.toMillis());
      if (trigger.isAlive()) {
        throw new Hang(
            where()
                + "the "
                + action
                + " action hangs; collector threads "
                + CollectorLeakCheck.liveCollectorThreads());
      }
      chain.current = null;
      check(summary, thrown, run, actionFailures);
    }

    private void check(
        @Nullable ProcessSummary summary,
        @Nullable Throwable thrown,
        BackgroundRun run,
        List<Throwable> actionFailures) {
      String outcome = summary != null ? "summary" : thrown.getClass().getSimpleName();
      chain.outcomes.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
      List<String> problems = new ArrayList<>(violations);
      for (Throwable t : actionFailures) {
        problems.add(where() + "the " + action + " action threw " + t);
      }
      try {
        chain.store.assertNoViolation();
      } catch (AssertionError e) {
        problems.add(where() + "store check: " + e.getCause());
      }
      try {
        threads.assertAllEnded();
      } catch (AssertionError e) {
        problems.add(where() + "G4: " + e.getMessage());
      }
      Checkpoint durable = chain.store.current();
      long settledPrefix = settledPrefix();
      if (durable.sequence() > settledPrefix) {
        problems.add(where() + "durable " + durable + " covers unsettled batch " + settledPrefix);
      }
      boolean checkLowerBound = !terminalCommitFailure;
      if (summary != null) {
        if (!summary.checkpoint().equals(durable)) {
          problems.add(
              where()
                  + "summary checkpoint "
                  + summary.checkpoint()
                  + " but the store"
                  + " holds "
                  + durable);
        }
        if (!summary.stopped() && durable.sequence() != chain.batches) {
          problems.add(
              where()
                  + "returned a summary, not stopped, but durable is "
                  + durable
                  + " of "
                  + chain.batches
                  + " batches: "
                  + summary);
        }
        if (!summary.stopped()) {
          lowerBound.accumulateAndGet(chain.batches, Math::min);
        }
        if (clean && summary.stopped()) {
          problems.add(where() + "a clean run reported stopped: " + summary);
        }
      } else if (thrown instanceof InterruptedException) {
        if (!interruptSent) {
          problems.add(where() + "InterruptedException although nobody interrupted: " + thrown);
        }
        if (!run.interruptStatusKept) {
          problems.add(where() + "G5: InterruptedException without the interrupt status kept");
        }
      } else if (thrown instanceof BatchFailedException e) {
        if (!e.committed().equals(durable)) {
          problems.add(
              where()
                  + "BatchFailedException names "
                  + e.committed()
                  + " but the store"
                  + " holds "
                  + durable
                  + ": "
                  + e);
        }
        if (!terminalHandlerFailures.contains(e.sequence())) {
          problems.add(
              where()
                  + "BatchFailedException for batch "
                  + e.sequence()
                  + " that did not"
                  + " fail for good (terminal failures "
                  + terminalHandlerFailures
                  + "): "
                  + e);
        }
      } else if (thrown instanceof SourceException e) {
        if (!terminalSourceFailure) {
          problems.add(where() + "SourceException without a fetch failing for good: " + e);
        }
      } else if (thrown instanceof CheckpointException e) {
        checkLowerBound = false;
        if (!durable.equals(e.durable())) {
          problems.add(
              where()
                  + "CheckpointException names "
                  + e.durable()
                  + " but the store"
                  + " holds "
                  + durable
                  + ": "
                  + e);
        }
        if (!terminalCommitFailure) {
          problems.add(where() + "CheckpointException without a commit failing for good: " + e);
        }
      } else {
        problems.add(where() + "process() threw " + thrown + " (not a documented outcome)");
        if (thrown != null) {
          thrown.printStackTrace();
        }
      }
      long bound = lowerBound.get();
      if (checkLowerBound && bound != Long.MAX_VALUE && durable.sequence() < bound) {
        problems.add(
            where()
                + "G9: durable "
                + durable
                + " below the settled prefix "
                + bound
                + " at the first event that ended the run (settled prefix now "
                + settledPrefix
                + "); outcome "
                + (summary != null ? summary : thrown));
      }
      if (clean && (summary == null || durable.sequence() != chain.batches)) {
        problems.add(
            where() + "the clean run did not finish: " + (summary != null ? summary : thrown));
      }
      if (!problems.isEmpty()) {
        if (thrown != null) {
          thrown.printStackTrace();
        }
        chain.problems.addAll(problems); // later runs still check resume and the other rules
      }
    }
  }
}
