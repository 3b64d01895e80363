package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Batch;
import dev.collector.BatchFailedException;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorListener;
import dev.collector.CollectorListener.Outcome;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Engine v2 (issue 10): the defects of the old engine's {@code process()} path, each through the
 * public API (and a CollectorListener for defect 4).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EngineV2ProcessDefectsTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();

  private Collector<Long> collector(long batches, CollectorOptions.Builder options) {
    return Collecting.open(FakeSource.generated(batches, 1), store, options.build());
  }

  private static CollectorOptions.Builder options() {
    return CollectorOptions.builder().name("defects");
  }

  // ---- 1: owner interrupted while the final commit is in flight ------------------------------

  /** Wraps {@link #store}: signals when the commit of {@code sequence} starts. */
  private CheckpointStore signalling(long sequence, CountDownLatch entered) {
    return new CheckpointStore() {
      @Override
      public @Nullable Checkpoint load() {
        return store.load();
      }

      @Override
      public void commit(Checkpoint checkpoint) throws IOException {
        if (checkpoint.sequence() == sequence) {
          entered.countDown();
        }
        store.commit(checkpoint);
      }
    };
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void d01_ownerInterruptedDuringSlowFinalCommit_commitsAckedPrefixAndNamesIt() throws Exception {
    store.slowCommits(Duration.ofMillis(400));
    CountDownLatch finalCommit = new CountDownLatch(1);
    CountDownLatch firstCommit = new CountDownLatch(1);
    CompletionController<Long> controller = new CompletionController<>();
    CheckpointStore observed = signalling(3, finalCommit);
    CheckpointStore both =
        new CheckpointStore() {
          @Override
          public @Nullable Checkpoint load() throws IOException {
            return observed.load();
          }

          @Override
          public void commit(Checkpoint checkpoint) throws IOException {
            firstCommit.countDown();
            observed.commit(checkpoint);
          }
        };
    Collector<Long> c = Collecting.open(FakeSource.generated(3, 1), both, options().build());
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.release(0);
    assertTrue(firstCommit.await(10, TimeUnit.SECONDS)); // a 400 ms commit of batch 0 runs
    controller.release(1);
    controller.release(2); // the source is exhausted: the run ends with the commit of 3
    assertTrue(finalCommit.await(10, TimeUnit.SECONDS));
    run.owner.interrupt(); // while the final 400 ms commit is in flight

    Throwable thrown = run.awaitFailure(Duration.ofSeconds(20));
    InterruptedException e = assertInstanceOf(InterruptedException.class, thrown);
    assertTrue(run.interruptStatusKept, "interrupt status was cleared");
    assertEquals(new Checkpoint(3, "3"), store.current(), "the 3 acked batches are durable");
    assertNotNull(e.getMessage());
    assertTrue(e.getMessage().contains("sequence 3"), e.getMessage());
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void d01_ownerInterruptedMidRunWithSlowCommits_commitsAckedPrefix() throws Exception {
    store.slowCommits(Duration.ofMillis(400));
    CompletionController<Long> controller = new CompletionController<>();
    Collector<Long> c = collector(20, options());
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    for (long s = 0; s < 4; s++) {
      controller.awaitStarted(s, WAIT);
    }
    controller.release(0);
    controller.release(1);
    controller.release(2);
    controller.awaitFinished(2, WAIT);
    run.owner.interrupt();

    Throwable thrown = run.awaitFailure(Duration.ofSeconds(20));
    InterruptedException e = assertInstanceOf(InterruptedException.class, thrown);
    assertTrue(run.interruptStatusKept, "interrupt status was cleared");
    assertEquals(new Checkpoint(3, "3"), store.current(), "the 3 acked batches are durable");
    assertTrue(String.valueOf(e.getMessage()).contains("sequence 3"), e.getMessage());
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void d01_interruptStorm_committedIsAlwaysTheHandledPrefix() throws Exception {
    long seed = Long.getLong("collector.seed", System.nanoTime());
    System.out.println("d01_interruptStorm seed " + seed + " (-Dcollector.seed=" + seed + ")");
    SplittableRandom random = new SplittableRandom(seed);
    int batches = 40;
    for (int round = 0; round < 40; round++) {
      RecordingCheckpointStore s = new RecordingCheckpointStore();
      s.slowCommits(Duration.ofMillis(1));
      Set<Long> handled = ConcurrentHashMap.newKeySet();
      long workSeed = random.nextLong();
      Collector<Long> c = Collecting.open(FakeSource.generated(batches, 1), s, options().build());
      // Handlers never throw: every handler that was called returns normally (an interrupt
      // only cuts its park short), so every handled batch is acknowledged.
      BackgroundRun run =
          BackgroundRun.start(
              c,
              1 + random.nextInt(8),
              batch -> {
                LockSupport.parkNanos(
                    new SplittableRandom(workSeed + batch.sequence()).nextLong(300_000));
                handled.add(batch.sequence());
              });
      // from a random point on (half the rounds: once every batch was handled, so the final
      // commit is in flight), interrupt the owner again and again until process() ends
      int k = random.nextBoolean() ? batches : random.nextInt(batches);
      while (handled.size() < k && !run.isDone()) {
        Thread.onSpinWait();
      }
      while (!run.isDone()) {
        run.owner.interrupt();
        LockSupport.parkNanos(50_000 + random.nextLong(500_000));
      }
      String where = "seed " + seed + " round " + round + " interrupt after " + k;
      long prefix;
      try {
        ProcessSummary summary = run.await(Duration.ofSeconds(20));
        assertEquals(batches, summary.batches(), where);
        prefix = batches;
      } catch (AssertionError e) {
        Throwable cause = e.getCause();
        if (!(cause instanceof InterruptedException)) {
          throw e;
        }
        assertTrue(run.interruptStatusKept, where + ": interrupt status cleared");
        prefix = 0;
        while (handled.contains(prefix)) {
          prefix++;
        }
        assertTrue(
            cause.getMessage() != null
                && cause.getMessage().contains("sequence " + s.current().sequence()),
            where + ": " + cause.getMessage());
      }
      run.owner.join(10_000);
      assertEquals(prefix, s.current().sequence(), where + ": committed vs handled prefix");
      for (long b = 0; b < s.current().sequence(); b++) {
        assertTrue(handled.contains(b), where + ": committed batch " + b + " never handled");
      }
      s.assertNoViolation();
    }
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void d01_interruptStormWithFailingStore_endsCommittedPrefixOrCheckpointExceptionNamingDurable()
      throws Exception {
    long seed = Long.getLong("collector.seed", System.nanoTime());
    System.out.println("d01_interruptStormWithFailingStore seed " + seed);
    SplittableRandom random = new SplittableRandom(seed);
    int batches = 40;
    for (int round = 0; round < 30; round++) {
      RecordingCheckpointStore s = new RecordingCheckpointStore();
      SplittableRandom failures = new SplittableRandom(random.nextLong());
      double p = random.nextDouble() * 0.5;
      CheckpointStore flaky =
          new CheckpointStore() {
            @Override
            public @Nullable Checkpoint load() {
              return s.load();
            }

            @Override
            public void commit(Checkpoint checkpoint) throws IOException {
              boolean fail;
              synchronized (failures) {
                fail = failures.nextDouble() < p;
              }
              LockSupport.parkNanos(1_000_000);
              if (fail) {
                throw new IOException("injected failure of " + checkpoint);
              }
              s.commit(checkpoint);
            }
          };
      Threads threads = new Threads();
      Set<Long> handled = ConcurrentHashMap.newKeySet();
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(batches, 1),
              flaky,
              options().commitRetry(Retry.of(2, Duration.ZERO, Duration.ZERO)).build());
      BackgroundRun run =
          BackgroundRun.start(
              c,
              1 + random.nextInt(8),
              batch -> {
                threads.record();
                LockSupport.parkNanos(100_000);
                handled.add(batch.sequence());
              });
      int k = random.nextBoolean() ? batches : random.nextInt(batches);
      while (handled.size() < k && !run.isDone()) {
        Thread.onSpinWait();
      }
      while (!run.isDone()) {
        run.owner.interrupt();
        LockSupport.parkNanos(50_000 + random.nextLong(500_000));
      }
      String where = "seed " + seed + " round " + round + " p=" + p + " k=" + k;
      long prefix = 0;
      while (handled.contains(prefix)) {
        prefix++;
      }
      Checkpoint durable = s.current();
      Throwable outcome;
      try {
        run.await(Duration.ofSeconds(20));
        outcome = null;
      } catch (AssertionError e) {
        outcome = e.getCause();
        if (outcome == null) {
          throw e;
        }
      }
      run.owner.join(10_000);
      threads.assertAllEnded();
      for (long b = 0; b < durable.sequence(); b++) {
        assertTrue(handled.contains(b), where + ": committed batch " + b + " never handled");
      }
      CheckpointException commitFailure =
          outcome instanceof CheckpointException ce
              ? ce
              : outcome == null
                  ? null
                  : Arrays.stream(outcome.getSuppressed())
                      .filter(CheckpointException.class::isInstance)
                      .map(CheckpointException.class::cast)
                      .findFirst()
                      .orElse(null);
      if (commitFailure != null) {
        assertEquals(durable, commitFailure.durable(), where + ": " + commitFailure);
      } else if (outcome == null) {
        assertEquals(batches, durable.sequence(), where + ": normal summary");
      } else {
        assertInstanceOf(InterruptedException.class, outcome, where);
        assertEquals(prefix, durable.sequence(), where + ": no commit failed, prefix committed");
      }
      s.assertNoViolation();
    }
  }

  // ---- 2: commit failures ---------------------------------------------------------------------

  @Test
  void d02_finalCommitFails_processThrowsCheckpointExceptionNamingDurable() throws Exception {
    CountDownLatch firstCommit = new CountDownLatch(1);
    CountDownLatch gate = new CountDownLatch(1);
    CheckpointStore gated =
        new CheckpointStore() {
          @Override
          public @Nullable Checkpoint load() {
            return store.load();
          }

          @Override
          public void commit(Checkpoint checkpoint) throws IOException {
            if (checkpoint.sequence() == 1) {
              firstCommit.countDown();
              try {
                assertTrue(gate.await(30, TimeUnit.SECONDS));
              } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
              }
            }
            store.commit(checkpoint);
          }
        };
    store.crashAtSequence(2); // every commit past batch 0 fails
    CompletionController<Long> controller = new CompletionController<>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1), gated, options().commitRetry(Retry.NONE).build());
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.release(0);
    assertTrue(firstCommit.await(10, TimeUnit.SECONDS)); // the commit of 1 is held
    controller.release(1);
    controller.release(2); // the source is exhausted; the run waits for its last commit
    controller.awaitFinished(2, WAIT);
    await()
        .atMost(WAIT)
        .during(Duration.ofMillis(200))
        .until(() -> run.owner.getState() == Thread.State.WAITING);
    gate.countDown(); // 1 becomes durable; the final commit, of 3, fails

    Throwable thrown = run.awaitFailure(WAIT);
    CheckpointException e = assertInstanceOf(CheckpointException.class, thrown);
    assertEquals(new Checkpoint(1, "1"), e.durable());
    assertEquals(new Checkpoint(1, "1"), store.current());
  }

  @Test
  void d02_commitFailsMidRun_processThrowsCheckpointExceptionNeverASummary() throws Exception {
    store.crashAtSequence(20);
    Collector<Long> c =
        collector(
            500, options().commitRetry(Retry.of(2, Duration.ofMillis(1), Duration.ofMillis(2))));
    BackgroundRun run = BackgroundRun.start(c, 8, batch -> {});
    Throwable thrown = run.awaitFailure(WAIT);
    CheckpointException e = assertInstanceOf(CheckpointException.class, thrown);
    assertEquals(store.current(), e.durable());
    assertTrue(store.current().sequence() < 20, "" + store.current());
  }

  // ---- 3: a throwing dead-letter handler ------------------------------------------------------

  @Test
  @Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void d03_deadLetterHandlerThrows_processFailsWithItsExceptionPromptly() throws Exception {
    var bad = new IOException("bad record");
    var dlqDown = new IllegalStateException("dead-letter queue down");
    Collector<Long> c =
        collector(
            10,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.NONE)
                        .thenDeadLetter(
                            (batch, cause) -> {
                              throw dlqDown;
                            })));
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            batch -> {
              if (batch.sequence() == 2) {
                throw bad;
              }
            });
    Throwable thrown = run.awaitFailure(WAIT);
    BatchFailedException e = assertInstanceOf(BatchFailedException.class, thrown);
    assertEquals(2, e.sequence());
    assertSame(dlqDown, e.getCause());
    assertTrue(
        Arrays.asList(e.getSuppressed()).contains(bad),
        "the batch failure is attached: " + Arrays.toString(e.getSuppressed()));
    assertEquals(new Checkpoint(2, "2"), store.current());
  }

  @Test
  @Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void d03_deadLetterHandlerRethrowsCause_processFailsWithBatchFailedException() throws Exception {
    var bad = new IOException("bad record");
    Collector<Long> c =
        collector(
            10,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.NONE)
                        .thenDeadLetter(
                            (batch, cause) -> {
                              if (cause instanceof Exception x) {
                                throw x;
                              }
                              throw new AssertionError(cause);
                            })));
    BackgroundRun run =
        BackgroundRun.start(
            c,
            4,
            batch -> {
              if (batch.sequence() == 2) {
                throw bad;
              }
            });
    Throwable thrown = run.awaitFailure(WAIT);
    BatchFailedException e = assertInstanceOf(BatchFailedException.class, thrown);
    assertEquals(2, e.sequence());
    assertSame(bad, e.getCause());
    assertEquals(new Checkpoint(2, "2"), store.current());
  }

  // ---- 4: library per-batch code throwing ----------------------------------------------------

  /** A telemetry listener that throws what {@code thrower} makes, on every event or one. */
  private static final class ThrowingListener implements CollectorListener {
    private final RuntimeException everywhere;
    private final @Nullable Error onHandled;

    ThrowingListener(RuntimeException everywhere, @Nullable Error onHandled) {
      this.everywhere = everywhere;
      this.onHandled = onHandled;
    }

    private void maybeThrow() {
      if (onHandled == null) {
        throw everywhere;
      }
    }

    @Override
    public void fetched(long sequence, int records, long fetchNanos) {
      maybeThrow();
    }

    @Override
    public void windowFull(long waitNanos) {
      maybeThrow();
    }

    @Override
    public void handled(long sequence, int records, long nanos, Outcome outcome) {
      if (onHandled != null) {
        throw onHandled;
      }
      maybeThrow();
    }

    @Override
    public void acknowledged(long sequence, int records) {
      maybeThrow();
    }

    @Override
    public void retried(long sequence) {
      maybeThrow();
    }

    @Override
    public void deadLettered(long sequence) {
      maybeThrow();
    }

    @Override
    public void committed(long checkpoint, long batches, long nanos) {
      maybeThrow();
    }

    @Override
    public void misuse(Class<? extends MisuseException> kind, long sequence) {
      maybeThrow();
    }
  }

  @Test
  void d04_listenerThrowsRuntimeExceptionOnEveryEvent_runCompletesAndCommitsAll() throws Exception {
    Collector<Long> c = collector(50, options());
    c.listen(new ThrowingListener(new IllegalStateException("meter broken"), null));
    BackgroundRun run = BackgroundRun.start(c, 4, batch -> {});
    ProcessSummary summary = run.await(WAIT);
    assertEquals(50, summary.batches());
    assertEquals(new Checkpoint(50, "50"), store.current());
  }

  @Test
  void d04_listenerThrowsErrorOnHandled_processFailsWithItAndNoThreadOutlivesIt() throws Exception {
    Threads threads = new Threads();
    Collector<Long> c = collector(50, options().name("errorlistener"));
    var oom = new OutOfMemoryError("simulated");
    c.listen(new ThrowingListener(new IllegalStateException("unused"), oom));
    BackgroundRun run = BackgroundRun.start(c, 4, batch -> threads.record());
    Throwable thrown = run.awaitFailure(WAIT);
    BatchFailedException e = assertInstanceOf(BatchFailedException.class, thrown);
    assertSame(oom, e.getCause());
    threads.assertAllEnded();
    List<String> alive =
        CollectorLeakCheck.liveCollectorThreads().stream()
            .filter(n -> n.startsWith("errorlistener-"))
            .toList();
    assertEquals(List.of(), alive, "collector threads alive after process() threw");
  }

  /** Throws {@code error} from {@code acknowledged} only. */
  private static final class ErrorOnAcknowledged implements CollectorListener {
    private final Error error;

    ErrorOnAcknowledged(Error error) {
      this.error = error;
    }

    @Override
    public void fetched(long sequence, int records, long fetchNanos) {}

    @Override
    public void windowFull(long waitNanos) {}

    @Override
    public void handled(long sequence, int records, long nanos, Outcome outcome) {}

    @Override
    public void acknowledged(long sequence, int records) {
      throw error;
    }

    @Override
    public void retried(long sequence) {}

    @Override
    public void deadLettered(long sequence) {}

    @Override
    public void committed(long checkpoint, long batches, long nanos) {}

    @Override
    public void misuse(Class<? extends MisuseException> kind, long sequence) {}
  }

  @Test
  void d04_listenerThrowsErrorOnAcknowledged_failedBatchIsNotCoveredByTheCheckpoint()
      throws Exception {
    Collector<Long> c = collector(10, options().name("ackerror"));
    var oom = new OutOfMemoryError("simulated");
    c.listen(new ErrorOnAcknowledged(oom));
    BackgroundRun run = BackgroundRun.start(c, 1, batch -> {});
    Throwable thrown = run.awaitFailure(WAIT);
    BatchFailedException e = assertInstanceOf(BatchFailedException.class, thrown);
    assertSame(oom, e.getCause());
    // The exception says "a new run resumes at committed and delivers batch <sequence> again":
    // that is only true if the failed batch is not below the committed checkpoint.
    assertTrue(
        e.committed().sequence() <= e.sequence(),
        "batch "
            + e.sequence()
            + " reported failed but committed through "
            + e.committed().sequence()
            + ": "
            + e.getMessage());
    assertEquals(e.committed(), store.current());
  }

  // ---- 8: close() during process(), concurrent stop() ----------------------------------------

  @Test
  void d08_closeDuringProcess_summarySaysStopped() throws Exception {
    CompletionController<Long> controller = new CompletionController<>();
    Collector<Long> c = collector(100, options());
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.release(0);
    controller.awaitStarted(3, WAIT);
    store.awaitSequence(1, WAIT);
    c.close(); // waits until the run ended
    assertEquals(new Checkpoint(1, "1"), store.current(), "durable when close() returned");
    ProcessSummary summary = run.await(WAIT);
    assertTrue(summary.stopped(), "source not exhausted, run ended by close(): " + summary);
    assertEquals(new Checkpoint(1, "1"), summary.checkpoint());
  }

  @Test
  void d08_concurrentStopCalls_allReturnTrueWhileRunActive_falseWithoutRun() throws Exception {
    CompletionController<Long> controller = new CompletionController<>();
    Collector<Long> c = collector(100, options().drainTimeout(Duration.ofSeconds(30)));
    assertFalse(c.stop(), "no run yet");
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.awaitStarted(3, WAIT);
    int callers = 8;
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        results.add(
            pool.submit(
                () -> {
                  go.await();
                  return c.stop();
                }));
      }
      go.countDown();
      List<Boolean> answers = new ArrayList<>();
      for (Future<Boolean> f : results) {
        answers.add(f.get(10, TimeUnit.SECONDS));
      }
      assertEquals(java.util.Collections.nCopies(callers, true), answers);
      assertTrue(c.stop(), "still draining: a run is active");
    } finally {
      pool.shutdownNow();
    }
    controller.releaseAll();
    ProcessSummary summary = run.await(WAIT);
    assertTrue(summary.stopped());
    assertFalse(c.stop(), "the run returned");
    c.close();
  }

  @Test
  void race_stopThenClose_closeCancelsTheDrainAtOnce() throws Exception {
    CompletionController<Long> controller = new CompletionController<>();
    Collector<Long> c = collector(100, options().drainTimeout(Duration.ofMinutes(10)));
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.release(0);
    controller.awaitStarted(4, WAIT);
    assertTrue(c.stop());
    // the held handlers would drain for 10 minutes; close() cancels them (zero drain)
    c.close();
    ProcessSummary summary = run.await(WAIT);
    assertTrue(summary.stopped());
    assertEquals(new Checkpoint(1, "1"), store.current());
  }

  // ---- 9: a handler interrupting itself under a retry policy --------------------------------

  @Test
  void d09_handlerInterruptsItselfAndThrows_retriedWithCleanStatusAndRunCompletes()
      throws Exception {
    Map<Long, List<Integer>> attempts = new ConcurrentHashMap<>();
    List<String> dirty = new CopyOnWriteArrayList<>();
    Collector<Long> c =
        collector(
            10,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(3, Duration.ofMillis(1), Duration.ofMillis(5)))));
    BackgroundRun run =
        BackgroundRun.start(
            c,
            4,
            (Batch<Long> batch) -> {
              attempts
                  .computeIfAbsent(batch.sequence(), s -> new CopyOnWriteArrayList<>())
                  .add(batch.attempt());
              if (Thread.currentThread().isInterrupted()) {
                dirty.add("batch " + batch.sequence() + " attempt " + batch.attempt());
              }
              if (batch.sequence() == 2 && batch.attempt() == 1) {
                Thread.currentThread().interrupt();
                throw new IOException("write failed, and I interrupted myself");
              }
            });
    ProcessSummary summary = run.await(WAIT);
    assertEquals(10, summary.batches());
    assertEquals(List.of(1, 2), attempts.get(2L));
    assertEquals(List.of(), dirty, "attempts that started with the interrupt status set");
    assertEquals(new Checkpoint(10, "10"), store.current());
  }

  // ---- 10 (process side): a store whose commit() calls progress() -----------------------------

  @Test
  void d10_storeCommitCallsProgress_processDoesNotDeadlock() throws Exception {
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    CheckpointStore calling =
        new CheckpointStore() {
          @Override
          public @Nullable Checkpoint load() {
            return store.load();
          }

          @Override
          public void commit(Checkpoint checkpoint) throws IOException {
            Collector<Long> c = ref.get();
            if (c != null) {
              c.progress();
            }
            store.commit(checkpoint);
          }
        };
    Collector<Long> c = Collecting.open(FakeSource.generated(20, 1), calling, options().build());
    ref.set(c);
    CompletionController<Long> controller = new CompletionController<>();
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.release(0);
    controller.release(1);
    controller.awaitStarted(5, WAIT);
    controller.release(2); // acknowledged while close() runs at the latest: its final commit
    Thread closer = Thread.ofPlatform().daemon().start(c::close);
    closer.join(10_000);
    assertFalse(closer.isAlive(), "close() deadlocked");
    assertTrue(run.await(WAIT).stopped());
    assertEquals(3, store.current().sequence());
  }

  // ---- 12: a finished batch waiting for an earlier one holds no records ----------------------

  /** A record the test can watch with a weak reference. */
  private static final class Payload {
    @SuppressWarnings("unused")
    private final byte[] bytes = new byte[64 * 1024];
  }

  @Test
  void d12_finishedBatchWaitingForEarlierOne_itsRecordsAreCollectable() throws Exception {
    Map<Long, WeakReference<Payload>> made = new ConcurrentHashMap<>();
    BatchSource<Payload> source =
        token ->
            new SourceReader<>() {
              private long next = token.isEmpty() ? 0 : Long.parseLong(token);

              @Override
              public @Nullable SourceBatch<Payload> next() {
                if (next >= 10) {
                  return null;
                }
                Payload p = new Payload();
                made.put(next, new WeakReference<>(p));
                next++;
                return new SourceBatch<>(List.of(p), Long.toString(next));
              }

              @Override
              public void close() {}
            };
    CompletionController<Payload> controller = new CompletionController<>();
    Collector<Payload> c = Collecting.open(source, store, options().build());
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.awaitStarted(0, WAIT);
    controller.awaitStarted(1, WAIT);
    controller.release(1);
    controller.awaitFinished(1, WAIT);
    WeakReference<Payload> one = made.get(1L);
    assertNotNull(one);
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              System.gc();
              return one.get() == null;
            });
    assertFalse(run.isDone());
    assertEquals(Checkpoint.INITIAL, store.current(), "batch 0 still runs");
    controller.releaseAll();
    assertEquals(10, run.await(WAIT).batches());
  }

  // ---- 13: a store whose load() throws unchecked -----------------------------------------------

  @Test
  void d13_open_storeLoadThrowsUnchecked_checkpointException() {
    var broken = new IllegalStateException("corrupt store");
    CheckpointStore failing =
        new CheckpointStore() {
          @Override
          public @Nullable Checkpoint load() {
            throw broken;
          }

          @Override
          public void commit(Checkpoint checkpoint) {
            throw new AssertionError("never");
          }
        };
    CheckpointException e =
        assertThrows(
            CheckpointException.class,
            () -> Collecting.open(FakeSource.generated(3, 1), failing, options().build()));
    assertSame(broken, e.getCause());
  }
}
