package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchSource;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CollectorRun;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Attacks on collector-testkit v2 through its public API and written promises. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TestkitAttackTest {

  private static final List<String> LINES =
      IntStream.range(0, 60).mapToObj(i -> "line " + i).toList();

  /** A line source cutting 3 lines per batch; the token is the next line index + skew. */
  static BatchSource<String> lineSource(List<String> lines, int tokenSkew) {
    return token -> {
      int from = token.isEmpty() ? 0 : Integer.parseInt(token);
      return new SourceReader<>() {
        int next = from;

        @Override
        public @Nullable SourceBatch<String> next() {
          if (next >= lines.size()) {
            return null;
          }
          int to = Math.min(lines.size(), next + 3);
          var batch =
              new SourceBatch<String>(
                  lines.subList(next, to), Integer.toString(Math.max(0, to + tokenSkew)));
          next = to;
          return batch;
        }

        @Override
        public void close() {}
      };
    };
  }

  // ---------------------------------------------------------------- CrashHarness: sources

  @Test
  void goodSource_passes() throws Exception {
    Ledger<String> ledger =
        CrashHarness.over(lineSource(LINES, 0), Collecting::open)
            .expecting(LINES)
            .depth(4)
            .crashes(5)
            .seed(7)
            .run(b -> {});
    ledger.assertAll();
    assertTrue(ledger.crashes() > 0, ledger.summary());
  }

  @Test
  void tokenOffByOneForward_isCaughtWithSeed() throws Exception {
    for (long seed = 1; seed <= 5; seed++) {
      Ledger<String> ledger =
          CrashHarness.over(lineSource(LINES, 1), Collecting::open)
              .expecting(LINES)
              .depth(4)
              .crashes(3)
              .seed(seed)
              .run(b -> {});
      AssertionError e = assertThrows(AssertionError.class, ledger::assertAll);
      assertTrue(e.getMessage().contains("seed " + seed), e.getMessage());
    }
  }

  @Test
  void tokenOffByOneBackward_isCaughtWithSeed() throws Exception {
    for (long seed = 1; seed <= 5; seed++) {
      Ledger<String> ledger =
          CrashHarness.over(lineSource(LINES, -1), Collecting::open)
              .expecting(LINES)
              .depth(4)
              .crashes(3)
              .seed(seed)
              .run(b -> {});
      AssertionError e = assertThrows(AssertionError.class, ledger::assertAll);
      assertTrue(e.getMessage().contains("seed " + seed), e.getMessage());
    }
  }

  @Test
  void sourceThatEndsEarly_isCaught() throws Exception {
    Ledger<String> ledger =
        CrashHarness.over(lineSource(LINES.subList(0, 57), 0), Collecting::open)
            .expecting(LINES)
            .depth(4)
            .crashes(2)
            .seed(3)
            .run(b -> {});
    AssertionError e = assertThrows(AssertionError.class, ledger::assertAll);
    assertTrue(
        e.getMessage().contains("line 57") && e.getMessage().contains("seed 3"), e.getMessage());
  }

  @Test
  void extraRecordAndWrongCount_areCaught() throws Exception {
    List<String> more = new java.util.ArrayList<>(LINES);
    more.add("intruder");
    Ledger<String> extra =
        CrashHarness.over(lineSource(more, 0), Collecting::open)
            .expecting(LINES)
            .depth(4)
            .crashes(2)
            .seed(3)
            .run(b -> {});
    AssertionError e = assertThrows(AssertionError.class, extra::assertAll);
    assertTrue(e.getMessage().contains("intruder"), e.getMessage());

    Ledger<String> count =
        CrashHarness.over(lineSource(LINES, 0), Collecting::open)
            .expectingCount(61)
            .depth(4)
            .crashes(2)
            .seed(3)
            .run(b -> {});
    e = assertThrows(AssertionError.class, count::assertAll);
    assertTrue(e.getMessage().contains("60") && e.getMessage().contains("61"), e.getMessage());
  }

  @Test
  void unknownSource_withoutExpectation_isRefused() {
    assertThrows(
        IllegalStateException.class,
        () -> CrashHarness.over(lineSource(LINES, 0), Collecting::open).run(b -> {}));
  }

  @Test
  void sourceThatThrowsOnOpenAfterACrash_failsTheHarnessWithSeed() {
    AtomicInteger opens = new AtomicInteger();
    BatchSource<String> good = lineSource(LINES, 0);
    BatchSource<String> source =
        token -> {
          if (opens.incrementAndGet() > 1) {
            throw new IOException("cannot reopen");
          }
          return good.open(token);
        };
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(source, Collecting::open)
                    .expecting(LINES)
                    .options(CollectorOptions.defaults().toBuilder().fetchRetry(Retry.NONE).build())
                    .depth(4)
                    .crashes(2)
                    .seed(11)
                    .run(b -> {}));
    assertTrue(e.getMessage().contains("seed 11"), e.getMessage());
    assertTrue(e.getMessage().contains("without a simulated crash"), e.getMessage());
  }

  // ------------------------------------------------------------ CrashHarness: determinism

  private static Ledger<Long> runSeeded(long seed, int depth, int crashes, boolean inOrder)
      throws InterruptedException {
    var h =
        CrashHarness.over(FakeSource.generated(40, 2), Collecting::open)
            .depth(depth)
            .crashes(crashes)
            .seed(seed);
    if (inOrder) {
      h.inOrder();
    }
    return h.run(b -> {});
  }

  @Test
  void sameSeed_sameLedger_manyTimes_variedSettings() throws Exception {
    int[][] settings = {{1, 3}, {4, 5}, {8, 10}, {64, 3}};
    for (int[] s : settings) {
      for (boolean inOrder : new boolean[] {false, true}) {
        Ledger<Long> first = runSeeded(99, s[0], s[1], inOrder);
        first.assertAll();
        for (int i = 0; i < 6; i++) {
          Ledger<Long> again = runSeeded(99, s[0], s[1], inOrder);
          assertEquals(first.runs(), again.runs(), "depth " + s[0] + " inOrder " + inOrder);
          assertEquals(first.summary(), again.summary());
        }
      }
    }
  }

  @Test
  void crashesZero_andMoreCrashesThanBatches() throws Exception {
    Ledger<Long> none =
        CrashHarness.over(FakeSource.generated(10, 1), Collecting::open)
            .crashes(0)
            .seed(1)
            .run(b -> {});
    none.assertAll();
    assertEquals(0, none.crashes());
    assertEquals(1, none.runs().size());
    Ledger<Long> many =
        CrashHarness.over(FakeSource.generated(3, 1), Collecting::open)
            .depth(1)
            .crashes(50)
            .seed(1)
            .run(b -> {});
    many.assertAll();
    assertTrue(many.summary().contains("of 50 crashes"), many.summary());
  }

  @Test
  void seedProperty_honoured_explicitSeedWins() throws Exception {
    String old = System.getProperty(CrashHarness.SEED_PROPERTY);
    try {
      System.setProperty(CrashHarness.SEED_PROPERTY, "1234");
      assertEquals(
          1234,
          CrashHarness.over(FakeSource.generated(3, 1), Collecting::open)
              .crashes(1)
              .run(b -> {})
              .seed());
      assertEquals(
          5,
          CrashHarness.over(FakeSource.generated(3, 1), Collecting::open)
              .seed(5)
              .crashes(1)
              .run(b -> {})
              .seed());
    } finally {
      restore(old);
    }
  }

  @Test
  void malformedSeedProperty_isNotSilentlyReplacedByARandomSeed() throws Exception {
    String old = System.getProperty(CrashHarness.SEED_PROPERTY);
    try {
      System.setProperty(CrashHarness.SEED_PROPERTY, "42L");
      // Expected: refused loudly (the user asked for a seed) or 42; observed: a random seed.
      try {
        long seed =
            CrashHarness.over(FakeSource.generated(3, 1), Collecting::open)
                .crashes(1)
                .run(b -> {})
                .seed();
        assertEquals(42, seed, "-Dcollector.seed=42L was taken as 'no seed'");
      } catch (IllegalArgumentException expected) {
        // fine: refused loudly
      }
    } finally {
      restore(old);
    }
  }

  private static void restore(@Nullable String old) {
    if (old == null) {
      System.clearProperty(CrashHarness.SEED_PROPERTY);
    } else {
      System.setProperty(CrashHarness.SEED_PROPERTY, old);
    }
  }

  // --------------------------------------------------------------- CrashHarness: handlers

  @Test
  void nonIdempotentHandler_failingOnReplay_isCaughtAsReplay() {
    for (long seed = 1; seed <= 5; seed++) {
      Set<Long> seen = ConcurrentHashMap.newKeySet();
      long s = seed;
      AssertionError e =
          assertThrows(
              AssertionError.class,
              () ->
                  CrashHarness.over(FakeSource.generated(40, 2), Collecting::open)
                      .depth(4)
                      .crashes(3)
                      .seed(s)
                      .run(
                          b -> {
                            for (long r : b.records()) {
                              if (!seen.add(r)) {
                                throw new IllegalStateException("duplicate key " + r);
                              }
                            }
                          }),
              "seed " + seed);
      assertTrue(
          e.getMessage().contains("a replay") && e.getMessage().contains("seed " + seed),
          e.getMessage());
    }
  }

  @Test
  void failedAttempts_recordedExactly() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(10, 1), Collecting::open)
            .crashes(0)
            .seed(2)
            .options(
                CollectorOptions.defaults().toBuilder()
                    .failurePolicy(FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO)))
                    .build())
            .run(
                b -> {
                  if (b.sequence() == 4 && b.attempt() < 3) {
                    calls.incrementAndGet();
                    throw new IOException("flaky " + b.attempt());
                  }
                });
    ledger.assertAll();
    var failed = ledger.runs().get(0).failedAttempts();
    assertEquals(2, failed.size(), failed.toString());
    assertEquals(List.of(1, 2), failed.stream().map(Ledger.FailedAttempt::attempt).toList());
    assertFalse(failed.get(0).replay());
  }

  /**
   * A batch that failed once and then succeeded on retry is named as "the" failing batch when the
   * run later fails for an unrelated reason (the source).
   */
  @Test
  void runFailureMessage_namesTheRealCause_notAnEarlierRetriedBatch() {
    FakeSource<Long> source = FakeSource.generated(10, 1).failFetch(6, Integer.MAX_VALUE);
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(source, Collecting::open)
                    .crashes(0)
                    .seed(8)
                    .depth(2)
                    .options(
                        CollectorOptions.defaults().toBuilder()
                            .fetchRetry(Retry.NONE)
                            .failurePolicy(
                                FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO)))
                            .build())
                    .run(
                        b -> {
                          if (b.sequence() == 1 && b.attempt() == 1) {
                            throw new IOException("transient");
                          }
                        }));
    String m = e.getMessage();
    assertFalse(
        m.contains("the handler failed on batch 1"),
        "batch 1 succeeded on its retry, yet the message blames it: " + m);
    assertTrue(m.contains("without a simulated crash"), m);
  }

  @Test
  void commitIntervalOption_doesNotStallTheHarness() throws Exception {
    long t0 = System.nanoTime();
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(12, 1), Collecting::open)
            .depth(4)
            .crashes(1)
            .seed(4)
            .stepTimeout(Duration.ofSeconds(20))
            .options(
                CollectorOptions.defaults().toBuilder()
                    .commitInterval(Duration.ofSeconds(1))
                    .build())
            .run(b -> {});
    ledger.assertAll();
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms < 3_000, "12 batches took " + ms + " ms with commitInterval 1s");
  }

  @Test
  void concurrencyOption_isOverridden() throws Exception {
    CrashHarness.over(FakeSource.generated(20, 1), Collecting::open)
        .depth(8)
        .crashes(2)
        .seed(5)
        .stepTimeout(Duration.ofSeconds(10))
        .options(
            CollectorOptions.defaults().toBuilder()
                .concurrency(1)
                .batchTimeout(Duration.ofMillis(1))
                .build())
        .run(b -> {})
        .assertAll();
  }

  // ---------------------------------------------------------------------- leak check

  @Test
  void leakCheck_applicationThreadsNamedLikeCollectorThreads_notBlamed() throws Exception {
    CountDownLatch stop = new CountDownLatch(1);
    Thread a = Thread.ofPlatform().name("billing-watchdog").start(() -> await(stop));
    Thread b = Thread.ofVirtual().name("collector-handler-3").start(() -> await(stop));
    try {
      List<String> live = CollectorLeakCheck.liveCollectorThreads();
      assertFalse(live.contains("billing-watchdog"), live.toString());
      assertFalse(live.contains("collector-handler-3"), live.toString());
    } finally {
      stop.countDown();
      a.join();
      b.join();
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A minimal ExtensionContext: unique id, display name, one store. */
  private static ExtensionContext context(String id, Map<Object, Object> store) {
    Object storeProxy =
        Proxy.newProxyInstance(
            ExtensionContext.Store.class.getClassLoader(),
            new Class<?>[] {ExtensionContext.Store.class},
            (p, m, args) ->
                switch (m.getName()) {
                  case "put" -> store.put(args[0], args[1]);
                  case "remove" -> store.remove(args[0]);
                  case "get" -> store.get(args[0]);
                  default -> throw new UnsupportedOperationException(m.getName());
                });
    return (ExtensionContext)
        Proxy.newProxyInstance(
            ExtensionContext.class.getClassLoader(),
            new Class<?>[] {ExtensionContext.class},
            (p, m, args) ->
                switch (m.getName()) {
                  case "getUniqueId" -> id;
                  case "getDisplayName" -> id;
                  case "getStore" -> storeProxy;
                  default -> throw new UnsupportedOperationException(m.getName());
                });
  }

  @Test
  void leakCheck_failsTheLeakingTest_notTheNextOne() throws Exception {
    var check = new CollectorLeakCheck();
    Map<Object, Object> store = new HashMap<>();
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(10, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    ExtensionContext a = context("leaker", store);
    check.beforeEach(a);
    CollectorRun run = CollectorRun.start(collector, 2, controller);
    try {
      controller.awaitStartedCount(2, Duration.ofSeconds(10));
      AssertionError e = assertThrows(AssertionError.class, () -> check.afterEach(a));
      assertTrue(e.getMessage().contains("leaker"), e.getMessage());
      ExtensionContext b = context("innocent", store);
      check.beforeEach(b);
      check.afterEach(b); // the leak is older than this test: not blamed
    } finally {
      run.close();
    }
  }

  /**
   * JUnit parallel mode: test A leaks while test B runs concurrently. B leaked nothing; it is
   * blamed because the check only compares thread sets before/after each test.
   */
  @Test
  void leakCheck_parallelTests_blameOnlyTheLeaker() throws Exception {
    var check = new CollectorLeakCheck();
    Map<Object, Object> store = new ConcurrentHashMap<>();
    ExtensionContext leaker = context("leaker", store);
    ExtensionContext innocent = context("innocent", store);
    check.beforeEach(innocent); // B starts
    check.beforeEach(leaker); // A starts in parallel
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(10, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    CollectorRun run = CollectorRun.start(collector, 2, controller); // A leaks this
    try {
      controller.awaitStartedCount(2, Duration.ofSeconds(10));
      check.afterEach(innocent); // B ends: expected to pass, it started no collector
    } finally {
      run.close();
    }
  }

  // --------------------------------------------------------------- CompletionController

  @Test
  void controller_releaseTwice_refused_andAwaitTimeoutSaysWhat() throws Exception {
    var controller = new CompletionController<Long>();
    controller.release(3);
    assertThrows(IllegalStateException.class, () -> controller.release(3));
    assertThrows(IllegalStateException.class, () -> controller.fail(3, new IOException()));
    AssertionError e =
        assertThrows(AssertionError.class, () -> controller.awaitStarted(7, Duration.ofMillis(50)));
    assertTrue(e.getMessage().contains("batch 7"), e.getMessage());
  }

  @Test
  void controller_failThenRetry_retryCanBeReleased() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(1, 1),
            Collecting.inMemoryStore(),
            CollectorOptions.defaults().toBuilder()
                .failurePolicy(FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO)))
                .build());
    try (CollectorRun run = CollectorRun.start(collector, 1, controller)) {
      controller.fail(0, new IOException("first attempt"));
      controller.awaitFinished(0, Duration.ofSeconds(10));
      // the retry (attempt 2) should be controllable; the verdict is per sequence, for ever
      Throwable t = run.awaitFailure(Duration.ofSeconds(10));
      assertTrue(t.toString().contains("first attempt"), t.toString());
    }
  }

  // --------------------------------------------------------------------- CollectorRun

  @Test
  void collectorRun_closeWhileHeld_endsRunAndClosesCollector() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(100, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    CollectorRun run = CollectorRun.start(collector, 4, controller);
    controller.awaitStartedCount(4, Duration.ofSeconds(10));
    run.close();
    assertTrue(run.isDone());
    run.close(); // twice is fine
    AssertionError e = assertThrows(AssertionError.class, () -> run.await(Duration.ofSeconds(5)));
    assertTrue(e.getMessage().contains("threw"), e.getMessage());
  }

  @Test
  void collectorRun_awaitTimeout_hasStack() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(100, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    try (CollectorRun run = CollectorRun.start(collector, 2, controller)) {
      AssertionError e =
          assertThrows(AssertionError.class, () -> run.await(Duration.ofMillis(200)));
      assertTrue(
          e.getMessage().contains("did not end within") && e.getMessage().contains("at "),
          e.getMessage());
    }
  }

  @Test
  void collectorRun_interruptedAwaiter_getsInterruptedException() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(100, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    try (CollectorRun run = CollectorRun.start(collector, 2, controller)) {
      Thread.currentThread().interrupt();
      assertThrows(InterruptedException.class, () -> run.await(Duration.ofSeconds(5)));
      assertFalse(Thread.currentThread().isInterrupted());
    }
  }

  // ------------------------------------------------- FakeSource / RecordingCheckpointStore

  @Test
  void fakeSource_failRandomly_isReproducible() throws Exception {
    assertEquals(failures(77), failures(77));
  }

  private static List<Integer> failures(long seed) throws Exception {
    FakeSource<Long> source = FakeSource.generated(200, 1).failRandomly(0.2, seed);
    List<Integer> out = new java.util.ArrayList<>();
    try (SourceReader<Long> reader = source.open("")) {
      for (int i = 0; i < 100; i++) {
        try {
          reader.next();
        } catch (IOException e) {
          out.add(i);
        }
      }
    }
    return out;
  }

  @Test
  void store_crashSwitch_freezesDurable_restartResumes() throws Exception {
    var store = new RecordingCheckpointStore();
    store.commit(new dev.collector.Checkpoint(1, "1"));
    store.crashAtSequence(3);
    store.commit(new dev.collector.Checkpoint(2, "2"));
    assertThrows(IOException.class, () -> store.commit(new dev.collector.Checkpoint(3, "3")));
    assertThrows(IOException.class, () -> store.commit(new dev.collector.Checkpoint(4, "4")));
    assertTrue(store.isCrashed());
    assertEquals(2, store.current().sequence());
    store.restart();
    store.commit(new dev.collector.Checkpoint(3, "3"));
    assertEquals(3, store.history().size());
  }

  @Test
  void store_invariantThrowingRuntimeException_isReportedByAssertNoViolation() throws Exception {
    var store =
        new RecordingCheckpointStore(
            null,
            (previous, next) -> {
              if (next.sequence() == 2) {
                throw new IllegalStateException("invariant broken at " + next);
              }
            });
    store.commit(new dev.collector.Checkpoint(1, "1"));
    assertThrows(RuntimeException.class, () -> store.commit(new dev.collector.Checkpoint(2, "2")));
    assertThrows(AssertionError.class, store::assertNoViolation);
  }

  // ------------------------------------------------------------ more harness / ledger

  @Test
  void ledger_replayMarksAndRunChain_areExact() throws Exception {
    for (long seed = 20; seed < 26; seed++) {
      Ledger<Long> ledger =
          CrashHarness.over(FakeSource.generated(50, 1), Collecting::open)
              .depth(5)
              .crashes(6)
              .seed(seed)
              .run(b -> {});
      ledger.assertAll();
      Set<Long> before = new java.util.HashSet<>();
      dev.collector.Checkpoint previousEnd = dev.collector.Checkpoint.INITIAL;
      for (Ledger.Run<Long> run : ledger.runs()) {
        assertEquals(previousEnd, run.start(), "seed " + seed + " run " + run.number());
        for (long s : run.completed()) {
          assertEquals(
              before.contains(s),
              run.replayed().contains(s),
              "seed " + seed + " run " + run.number() + " batch " + s);
          assertEquals(FakeSource.generated(50, 1).batch(s), run.records().get(s));
        }
        if (run.crashed()) {
          assertTrue(run.leftUncommitted() >= 1, "a crash always leaves a replay");
        }
        before.addAll(run.completed());
        previousEnd = run.end();
      }
      long replays = ledger.runs().stream().mapToLong(r -> r.replayed().size()).sum();
      assertEquals(replays, ledger.replayed(), ledger.summary());
      assertEquals(
          ledger.runs().stream().mapToLong(r -> r.completed().size()).sum(), ledger.handled());
    }
  }

  private static Ledger<Long> faulty(long seed) throws InterruptedException {
    FakeSource<Long> source = FakeSource.generated(40, 1).failFetch(5, 2).failFetch(17, 1);
    return CrashHarness.over(source, Collecting::open)
        .depth(4)
        .crashes(4)
        .seed(seed)
        .options(
            CollectorOptions.defaults().toBuilder()
                .fetchRetry(Retry.of(5, Duration.ZERO, Duration.ZERO))
                .failurePolicy(FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO)))
                .build())
        .run(
            b -> {
              if (b.sequence() % 7 == 3 && b.attempt() < 3) {
                throw new IOException("flaky " + b.sequence());
              }
            });
  }

  @Test
  void sameSeed_sameLedger_withRetriesDeadLettersAndFetchFailures() throws Exception {
    Ledger<Long> first = faulty(31);
    for (int i = 0; i < 5; i++) {
      Ledger<Long> again = faulty(31);
      assertEquals(first.runs(), again.runs());
      assertEquals(first.summary(), again.summary());
    }
  }

  @Test
  void factoryIgnoringTheOptions_stillWorks() throws Exception {
    CrashHarness.over(
            FakeSource.generated(30, 1),
            (dev.collector.testkit.CollectorFactory<Long>)
                (source, store, options) ->
                    Collecting.open(source, store, CollectorOptions.defaults()))
        .depth(4)
        .crashes(3)
        .seed(6)
        .stepTimeout(Duration.ofSeconds(20))
        .run(b -> {})
        .assertAll();
  }

  @Test
  void leakCheck_openPullSession_isCaught() throws Exception {
    var check = new CollectorLeakCheck();
    ExtensionContext a = context("puller", new HashMap<>());
    check.beforeEach(a);
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(10, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    try {
      var delivery = collector.next();
      assertTrue(delivery != null);
      AssertionError e = assertThrows(AssertionError.class, () -> check.afterEach(a));
      assertTrue(e.getMessage().contains("puller"), e.getMessage());
    } finally {
      collector.close();
    }
  }

  /**
   * ADR 0006: "A dead-letter handler of the user's failure policy is wrapped so the harness sees
   * the batch settled." Yet the harness's own commit check calls the commit past a dead-lettered
   * batch a violation ("covers unhandled batch"), so any handler test with a dead-letter policy and
   * one poison batch fails inside run().
   */
  @Test
  void deadLetterPolicy_poisonBatch_isSupportedByTheHarness() throws Exception {
    List<Long> deadLettered = new java.util.concurrent.CopyOnWriteArrayList<>();
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(10, 1), Collecting::open)
            .depth(4)
            .crashes(0)
            .seed(1)
            .options(
                CollectorOptions.defaults().toBuilder()
                    .failurePolicy(
                        FailurePolicy.failFast()
                            .thenDeadLetter((b, c) -> deadLettered.add(b.sequence())))
                    .build())
            .run(
                b -> {
                  if (b.sequence() == 3) {
                    throw new IOException("poison");
                  }
                });
    assertEquals(List.of(3L), deadLettered);
    ledger.assertReachedEnd();
    ledger.assertCommitsInOrder();
  }

  // ------------------------------------------------------------------ round 2

  @Test
  void blockingHandler_stepTimeout_failsWithSeed() throws Exception {
    CountDownLatch never = new CountDownLatch(1);
    long t0 = System.nanoTime();
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(FakeSource.generated(10, 1), Collecting::open)
                    .depth(2)
                    .crashes(1)
                    .seed(9)
                    .stepTimeout(Duration.ofMillis(300))
                    .run(
                        b -> {
                          if (b.sequence() == 2) {
                            never.await(); // interruptible
                          }
                        }));
    assertTrue(
        e.getMessage().contains("timed out") && e.getMessage().contains("seed 9"), e.getMessage());
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
  }

  @Test
  void inOrder_completesInSequenceOrderWithinEachRun() throws Exception {
    for (long seed = 1; seed <= 4; seed++) {
      Ledger<Long> ledger =
          CrashHarness.over(FakeSource.generated(30, 1), Collecting::open)
              .depth(6)
              .crashes(4)
              .seed(seed)
              .inOrder()
              .run(b -> {});
      ledger.assertAll();
      for (Ledger.Run<Long> run : ledger.runs()) {
        List<Long> sorted = run.completed().stream().sorted().toList();
        assertEquals(sorted, run.completed(), "seed " + seed + " run " + run.number());
      }
    }
  }

  @Test
  void sameSeed_sameLedger_withSeededRandomFetchFailures() throws Exception {
    List<Ledger.Run<Long>> first = null;
    for (int i = 0; i < 5; i++) {
      FakeSource<Long> source = FakeSource.generated(40, 1).failRandomly(0.15, 3);
      Ledger<Long> ledger =
          CrashHarness.over(source, Collecting::open)
              .depth(4)
              .crashes(4)
              .seed(12)
              .options(
                  CollectorOptions.defaults().toBuilder()
                      .fetchRetry(Retry.of(50, Duration.ZERO, Duration.ZERO))
                      .build())
              .run(b -> {});
      ledger.assertAll();
      if (first == null) {
        first = ledger.runs();
      } else {
        assertEquals(first, ledger.runs());
      }
    }
  }

  @Test
  void sameHarness_runTwice_sameLedger() throws Exception {
    var harness =
        CrashHarness.over(FakeSource.generated(30, 1), Collecting::open)
            .depth(4)
            .crashes(4)
            .seed(77);
    assertEquals(harness.run(b -> {}).runs(), harness.run(b -> {}).runs());
  }

  @Test
  void leakCheck_properlyClosedRun_notBlamed() throws Exception {
    var check = new CollectorLeakCheck();
    ExtensionContext a = context("tidy", new HashMap<>());
    check.beforeEach(a);
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(10, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    try (CollectorRun run = CollectorRun.start(collector, 2, controller)) {
      controller.awaitStartedCount(2, Duration.ofSeconds(10));
      assertFalse(run.isDone());
    }
    check.afterEach(a);
  }

  @Test
  void feedSource_readerInterruptible_feedAfterEndRefused_resumes() throws Exception {
    var feed = new dev.collector.testkit.FeedSource<String>();
    feed.feed(List.of("a")).feed(List.of("b"));
    SourceReader<String> reader = feed.open("1");
    assertEquals(List.of("b"), reader.next().records());
    var caught = new java.util.concurrent.CompletableFuture<Throwable>();
    Thread t =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    reader.next();
                    caught.complete(null);
                  } catch (Throwable x) {
                    caught.complete(x);
                  }
                });
    t.interrupt();
    assertTrue(caught.get(10, TimeUnit.SECONDS) instanceof InterruptedException);
    feed.end();
    assertThrows(IllegalStateException.class, () -> feed.feed(List.of("c")));
    assertEquals(null, feed.open("2").next());
  }

  @Test
  void fakeSource_failFetchTimes_exact() throws Exception {
    FakeSource<Long> source = FakeSource.generated(3, 1).failFetch(1, 2);
    SourceReader<Long> reader = source.open("1");
    assertThrows(IOException.class, reader::next);
    assertThrows(IOException.class, reader::next);
    assertEquals(List.of(1L), reader.next().records());
  }

  // ------------------------------------------------------------------ round 3

  @Test
  void quietCrashes_acrossSettings_logNoWarnings() throws Exception {
    try (var log = new LogCapture()) {
      for (int depth : new int[] {1, 3, 16}) {
        for (boolean inOrder : new boolean[] {false, true}) {
          var h =
              CrashHarness.over(FakeSource.generated(40, 1), Collecting::open)
                  .depth(depth)
                  .crashes(6)
                  .seed(depth * 31L);
          if (inOrder) {
            h.inOrder();
          }
          h.run(b -> {}).assertAll();
        }
      }
      assertEquals(List.of(), log.warnings());
    }
  }

  @Test
  void leakCheck_threadInsideProcess_whateverItsName_isACollectorThread() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(10, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    Thread t =
        Thread.ofPlatform()
            .name("my-app-thread")
            .start(
                () -> {
                  try {
                    collector.process(2, controller);
                  } catch (Exception ignored) {
                    // interrupted at the end of the test
                  }
                });
    try {
      controller.awaitStartedCount(2, Duration.ofSeconds(10));
      assertTrue(
          CollectorLeakCheck.liveCollectorThreads().contains("my-app-thread"),
          CollectorLeakCheck.liveCollectorThreads().toString());
    } finally {
      t.interrupt();
      t.join(10_000);
      collector.close();
    }
  }

  // ------------------------------------------------------------------ round 4

  @Test
  void handlerThrowingAssertionError_isReportedNotHung() {
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(FakeSource.generated(10, 1), Collecting::open)
                    .depth(3)
                    .crashes(0)
                    .seed(4)
                    .stepTimeout(Duration.ofSeconds(10))
                    .run(b -> assertFalse(b.sequence() == 3, "user assertion in handler")));
    assertTrue(
        e.getMessage().contains("batch 3") && e.getMessage().contains("seed 4"), e.getMessage());
  }

  @Test
  void constantToken_goingBackwards_isCaught() throws Exception {
    BatchSource<String> good = lineSource(LINES, 0);
    BatchSource<String> constant =
        token -> {
          SourceReader<String> r = good.open(""); // always from the start
          return new SourceReader<>() {
            @Override
            public @Nullable SourceBatch<String> next() throws Exception {
              SourceBatch<String> b = r.next();
              return b == null ? null : new SourceBatch<>(b.records(), "");
            }

            @Override
            public void close() throws IOException {
              r.close();
            }
          };
        };
    Ledger<String> ledger =
        CrashHarness.over(constant, Collecting::open)
            .expecting(LINES)
            .depth(4)
            .crashes(3)
            .seed(2)
            .run(b -> {});
    AssertionError e = assertThrows(AssertionError.class, ledger::assertAll);
    assertTrue(e.getMessage().contains("seed 2"), e.getMessage());
  }

  @Test
  void interruptingTheHarnessThread_endsEverything_noLeak() throws Exception {
    var check = new CollectorLeakCheck();
    ExtensionContext ctx = context("interrupted-harness", new HashMap<>());
    check.beforeEach(ctx);
    CountDownLatch blocked = new CountDownLatch(1);
    var outcome = new java.util.concurrent.CompletableFuture<Throwable>();
    Thread t =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    CrashHarness.over(FakeSource.generated(20, 1), Collecting::open)
                        .depth(2)
                        .crashes(0)
                        .seed(1)
                        .inOrder()
                        .run(
                            b -> {
                              if (b.sequence() == 5) {
                                blocked.countDown();
                                new CountDownLatch(1).await();
                              }
                            });
                    outcome.complete(null);
                  } catch (Throwable x) {
                    outcome.complete(x);
                  }
                });
    assertTrue(blocked.await(10, TimeUnit.SECONDS));
    t.interrupt();
    Throwable x = outcome.get(20, TimeUnit.SECONDS);
    assertTrue(x instanceof InterruptedException, String.valueOf(x));
    check.afterEach(ctx);
  }

  // ------------------------------------------------------------------ round 5

  @Test
  void crashPoints_withinDocumentedWindow() throws Exception {
    for (int depth : new int[] {1, 2, 5, 9}) {
      for (long seed = 0; seed < 4; seed++) {
        Ledger<Long> ledger =
            CrashHarness.over(FakeSource.generated(60, 1), Collecting::open)
                .depth(depth)
                .crashes(5)
                .seed(seed)
                .run(b -> {});
        ledger.assertAll();
        for (Ledger.Run<Long> run : ledger.runs()) {
          if (run.crashed()) {
            long start = run.start().sequence();
            long end = run.end().sequence();
            assertTrue(
                end >= start && end <= start + 2L * depth - 1,
                "depth " + depth + " seed " + seed + " run " + run);
          }
        }
      }
    }
  }

  @Test
  void emptySource_passes() throws Exception {
    Ledger<String> ledger =
        CrashHarness.over(FakeSource.<String>of(List.of()), Collecting::open)
            .depth(3)
            .crashes(3)
            .seed(1)
            .run(b -> {});
    ledger.assertAll();
    assertEquals(0, ledger.handled());
  }

  @org.junit.jupiter.api.Nested
  @org.junit.jupiter.api.extension.ExtendWith(CollectorLeakCheck.class)
  class AsExtension {
    @Test
    void injectsAFreshController(CompletionController<Long> controller) throws Exception {
      Collector<Long> collector =
          Collecting.open(
              FakeSource.generated(3, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
      try (CollectorRun run = CollectorRun.start(collector, 3, controller)) {
        controller.awaitStartedCount(3, Duration.ofSeconds(10));
        controller.release(2);
        controller.release(0);
        controller.release(1);
        assertEquals(3, run.await(Duration.ofSeconds(10)).checkpoint().sequence());
      }
    }
  }

  @Test
  void feedSource_underTheHarness() throws Exception {
    var feed = new dev.collector.testkit.FeedSource<String>();
    for (int i = 0; i < 20; i++) {
      feed.feed(LINES.subList(3 * i, 3 * i + 3));
    }
    feed.end();
    CrashHarness.over(feed, Collecting::open)
        .expecting(LINES)
        .depth(4)
        .crashes(4)
        .seed(3)
        .run(b -> {})
        .assertAll();
  }

  @Test
  void followSourceNeverEnding_failsAfterStepTimeout_withSeed() {
    var feed = new dev.collector.testkit.FeedSource<String>();
    feed.feed(List.of("a")).feed(List.of("b"));
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(feed, Collecting::open)
                    .expecting(List.of("a", "b"))
                    .depth(4)
                    .crashes(0)
                    .seed(3)
                    .stepTimeout(Duration.ofMillis(300))
                    .run(b -> {}));
    assertTrue(
        e.getMessage().contains("timed out") && e.getMessage().contains("seed 3"), e.getMessage());
  }
}
