package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchSource;
import dev.collector.CheckpointException;
import dev.collector.Collector;
import dev.collector.ProcessSummary;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.CollectorFactory;
import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * G1, G2 and G3 across in-process crashes, with the testkit's crash harness: the store freezes what
 * is durable at seeded checkpoints, as a killed process would, and a new collector on the same
 * store carries on. Also the harness itself (issue 14): any source, the crash switch decides, a
 * seed reproduces a ledger, replays are named, no log noise. Rerun with {@code -Dcollector.seed=N}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CrashRestartTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());

  @ParameterizedTest(name = "depth {0}")
  @ValueSource(ints = {1, 2, 16, 64})
  void crashesAtRandomCheckpoints_everythingHandled_commitsInOrder_replayAtMostDepth(int depth)
      throws Exception {
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(2_000, 3), Collecting::open)
            .depth(depth)
            .crashes(10)
            .seed(SEED ^ depth)
            .run(batch -> {});
    ledger.assertAll();
    assertEquals(10, ledger.crashes(), ledger.summary());
    assertTrue(ledger.handled() >= 2_000, ledger.summary());
  }

  @Test
  void ledger_replayBeyondDepth_failsNamingTheSeed() throws Exception {
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(300, 1), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(7)
            .run(batch -> {});
    // Checked against a smaller depth than the run used, the replay bound must trip.
    var e = assertThrows(AssertionError.class, () -> ledger.assertReplayAtMost(0));
    assertTrue(e.getMessage().contains("seed 7"), e.getMessage());
  }

  // ---- issue 14 -------------------------------------------------------------------------------

  /** 1: a source of the user's own, with what it yields; the ledger checks every record. */
  @Test
  void anySource_withExpectedRecords_everyRecordHandled_endReached() throws Exception {
    // 200 batches: 6 crashes at most 2 * depth apart each always fit before the end
    List<String> lines = LongStream.range(0, 600).mapToObj(i -> "line " + i).toList();
    Ledger<String> ledger =
        CrashHarness.over(new OffsetSource(lines, 3, false), Collecting::open)
            .expecting(lines)
            .depth(8)
            .crashes(6)
            .seed(SEED)
            .run(batch -> {});
    ledger.assertAll();
    assertEquals(6, ledger.crashes(), ledger.summary());
    assertTrue(ledger.reachedEnd(), ledger.summary());
  }

  /** 1: a source whose token is taken after its read-ahead skips records; the ledger says so. */
  @Test
  void buggySource_tokenAfterReadAhead_isCaught() throws Exception {
    List<String> lines = LongStream.range(0, 120).mapToObj(i -> "line " + i).toList();
    Ledger<String> ledger =
        CrashHarness.over(new OffsetSource(lines, 3, true), Collecting::open)
            .expecting(lines)
            .depth(8)
            .crashes(6)
            .seed(SEED)
            .run(batch -> {});
    var e = assertThrows(AssertionError.class, ledger::assertAll);
    assertTrue(e.getMessage().contains("seed " + SEED), e.getMessage());
  }

  /** 1: a source other than FakeSource must say what it yields. */
  @Test
  void anySource_withoutExpectation_isRefusedUpFront() {
    var e =
        assertThrows(
            IllegalStateException.class,
            () ->
                CrashHarness.over(new OffsetSource(List.of("a"), 1, false), Collecting::open)
                    .run(batch -> {}));
    assertTrue(e.getMessage().contains("expecting"), e.getMessage());
  }

  /**
   * 2: a collector whose process() returns normally after its final commit was refused (the old
   * engine's defect) must not end the harness early: the store's crash switch decides.
   */
  @Test
  void crashIsDecidedByTheStoreSwitch_notByAnException() throws Exception {
    CollectorFactory<Long> swallowing =
        (source, store, options) ->
            swallowCheckpointFailures(Collecting.open(source, store, options));
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(200, 1), swallowing)
            .depth(8)
            .crashes(5)
            .seed(3)
            .run(b -> {});
    assertEquals(5, ledger.crashes(), ledger.summary());
    ledger.assertAll();
    assertEquals(200, ledger.runs().get(ledger.runs().size() - 1).end().sequence());
  }

  /** 3: two runs with one seed give the same ledger, run by run; the summaries are printed. */
  @Test
  void sameSeed_sameLedger() throws Exception {
    Ledger<Long> first =
        CrashHarness.over(FakeSource.generated(300, 2), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(42)
            .run(b -> {});
    Ledger<Long> second =
        CrashHarness.over(FakeSource.generated(300, 2), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(42)
            .run(b -> {});
    System.out.println("first:  " + first.summary());
    System.out.println("second: " + second.summary());
    assertEquals(first.summary(), second.summary());
    assertEquals(first.runs(), second.runs());
    assertEquals(10, first.crashes(), first.summary());
    Ledger<Long> other =
        CrashHarness.over(FakeSource.generated(300, 2), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(43)
            .run(b -> {});
    assertFalse(first.runs().equals(other.runs()), "another seed, another script");
  }

  /** 4: the seed is in the summary, in every message, and -Dcollector.seed sets the default. */
  @Test
  void seed_inSummaryAndMessages_andTakenFromTheSystemProperty() throws Exception {
    String saved = System.getProperty(CrashHarness.SEED_PROPERTY);
    System.setProperty(CrashHarness.SEED_PROPERTY, "4242");
    try {
      Ledger<Long> ledger =
          CrashHarness.over(FakeSource.generated(50, 1), Collecting::open)
              .depth(4)
              .crashes(2)
              .run(b -> {});
      assertEquals(4242, ledger.seed());
      assertTrue(ledger.summary().startsWith("seed 4242"), ledger.summary());
      var e = assertThrows(AssertionError.class, () -> ledger.assertReplayAtMost(0));
      assertTrue(e.getMessage().contains("-Dcollector.seed=4242"), e.getMessage());
    } finally {
      if (saved == null) {
        System.clearProperty(CrashHarness.SEED_PROPERTY);
      } else {
        System.setProperty(CrashHarness.SEED_PROPERTY, saved);
      }
    }
  }

  /** 5: a handler that fails on a replayed batch is told so, with the seed. */
  @Test
  void handlerFailingOnAReplay_messageSaysItWasAReplay() {
    Set<Long> seen = ConcurrentHashMap.newKeySet();
    var e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(FakeSource.generated(200, 1), Collecting::open)
                    .depth(8)
                    .crashes(5)
                    .seed(5)
                    .run(
                        b -> {
                          if (!seen.add(b.sequence())) {
                            throw new IllegalStateException("duplicate key " + b.sequence());
                          }
                        }));
    assertTrue(e.getMessage().contains("a replay"), e.getMessage());
    assertTrue(e.getMessage().contains("seed 5"), e.getMessage());
  }

  /** 5: the ledger keeps records, replay marks and failed attempts per run. */
  @Test
  void ledger_recordsRecordsReplaysAndFailedAttempts() throws Exception {
    Set<Long> failedOnce = ConcurrentHashMap.newKeySet();
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(100, 2), Collecting::open)
            .depth(8)
            .crashes(4)
            .seed(9)
            .options(
                dev.collector.CollectorOptions.builder()
                    .failurePolicy(
                        dev.collector.FailurePolicy.retry(
                            dev.collector.Retry.of(2, Duration.ZERO, Duration.ZERO)))
                    .build())
            .run(
                b -> {
                  if (b.sequence() % 10 == 3 && failedOnce.add(b.sequence())) {
                    throw new IllegalStateException("flaky " + b.sequence());
                  }
                });
    ledger.assertAll();
    assertEquals(List.of(6L, 7L), ledger.records().get(3L));
    assertEquals(
        ledger.replayed(), ledger.runs().stream().mapToLong(r -> r.replayed().size()).sum());
    assertTrue(ledger.replayed() > 0, ledger.summary());
    assertEquals(10, ledger.runs().stream().mapToLong(r -> r.failedAttempts().size()).sum());
  }

  /** 8: inOrder() finishes batches strictly in sequence order; the default does not. */
  @Test
  void inOrder_completesInSequenceOrder() throws Exception {
    Ledger<Long> ordered =
        CrashHarness.over(FakeSource.generated(200, 1), Collecting::open)
            .depth(16)
            .crashes(3)
            .seed(SEED)
            .inOrder()
            .run(b -> {});
    ordered.assertAll();
    for (Ledger.Run<Long> run : ordered.runs()) {
      List<Long> sorted = new ArrayList<>(run.completed());
      sorted.sort(null);
      assertEquals(sorted, run.completed(), ordered.summary());
    }
    Ledger<Long> shuffled =
        CrashHarness.over(FakeSource.generated(200, 1), Collecting::open)
            .depth(16)
            .crashes(3)
            .seed(SEED)
            .run(b -> {});
    assertTrue(
        shuffled.runs().stream().anyMatch(r -> !isSorted(r.completed())), shuffled.summary());
  }

  /** 11: simulated crashes log nothing at WARNING. */
  @Test
  void simulatedCrashes_logNoWarnings() throws Exception {
    try (var log = new LogCapture()) {
      Ledger<Long> ledger =
          CrashHarness.over(FakeSource.generated(100, 1), Collecting::open)
              .depth(8)
              .crashes(5)
              .seed(11)
              .run(b -> {});
      assertEquals(5, ledger.crashes(), ledger.summary());
      assertEquals(List.of(), log.warnings());
    }
  }

  private static boolean isSorted(List<Long> list) {
    for (int i = 1; i < list.size(); i++) {
      if (list.get(i) < list.get(i - 1)) {
        return false;
      }
    }
    return true;
  }

  /** A collector whose process() answers a refused final commit with a normal summary. */
  private static <T> Collector<T> swallowCheckpointFailures(Collector<T> c) {
    @SuppressWarnings("unchecked")
    Collector<T> proxy =
        (Collector<T>)
            java.lang.reflect.Proxy.newProxyInstance(
                Collector.class.getClassLoader(),
                new Class<?>[] {Collector.class},
                (p, m, a) -> {
                  try {
                    return m.invoke(c, a);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    if (m.getName().equals("process")
                        && e.getCause() instanceof CheckpointException ce
                        && ce.durable() != null) {
                      return ProcessSummary.builder().checkpoint(ce.durable()).build();
                    }
                    throw e.getCause();
                  }
                });
    return proxy;
  }

  /**
   * A source of the user's own: lines in batches of {@code size}, the token the offset after the
   * batch. With {@code buggy}, the token is taken after reading one batch ahead (a classic bug).
   */
  record OffsetSource(List<String> lines, int size, boolean buggy) implements BatchSource<String> {
    @Override
    public SourceReader<String> open(String token) {
      int from = token.isEmpty() ? 0 : Integer.parseInt(token);
      return new SourceReader<>() {
        private int next = from;

        @Override
        public @Nullable SourceBatch<String> next() {
          if (next >= lines.size()) {
            return null;
          }
          int to = Math.min(next + size, lines.size());
          List<String> batch = lines.subList(next, to);
          next = to;
          int token = buggy ? Math.min(to + size, lines.size()) : to;
          return new SourceBatch<>(batch, Integer.toString(token));
        }

        @Override
        public void close() {}
      };
    }
  }
}
