package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AckOrdering;
import dev.collector.Batch;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import dev.collector.HandlerContext;
import dev.collector.ProcessSummary;
import dev.collector.Progress;
import dev.collector.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Value types of the public API pushed to their edges, from their javadoc only. */
class SpiAttackValuesTest {

  static final Duration HUGE = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);

  static CollectorOptions allNonDefault(HandlerContext h, DeadLetterHandler dl) {
    return CollectorOptions.builder()
        .name("x.y_z-1")
        .depth(CollectorOptions.MAX_DEPTH)
        .ackOrdering(AckOrdering.STRICT)
        .drainTimeout(Duration.ofMillis(7))
        .failurePolicy(
            FailurePolicy.retry(Retry.of(5, Duration.ofMillis(1), Duration.ofSeconds(2)))
                .thenDeadLetter(dl))
        .batchTimeout(Duration.ofSeconds(3))
        .stuckThreshold(Duration.ZERO)
        .fetchRetry(Retry.NONE)
        .commitRetry(Retry.of(9, Duration.ZERO, Duration.ZERO))
        .concurrency(3)
        .commitInterval(Duration.ofMillis(11))
        .handlerContext(h)
        .build();
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void options_toBuilderRoundTrip_equalsAndHashCode() {
    HandlerContext h = (b, a) -> a.run();
    DeadLetterHandler dl = (b, f) -> {};
    CollectorOptions o = allNonDefault(h, dl);
    CollectorOptions copy = o.toBuilder().build();
    assertEquals(o, copy);
    assertEquals(o.hashCode(), copy.hashCode());
    assertEquals(o.toString(), copy.toString());
    assertEquals(o, allNonDefault(h, dl));
    assertNotEquals(o, o.toBuilder().handlerContext((b, a) -> a.run()).build());
    assertNotEquals(o, o.toBuilder().name("other").build());
    assertNotEquals(o, o.toBuilder().concurrency(0).build());
    assertEquals(CollectorOptions.defaults(), CollectorOptions.builder().build());
    assertEquals(
        CollectorOptions.defaults().hashCode(), CollectorOptions.builder().build().hashCode());
    assertTrue(CollectorOptions.defaults().handlerContext() == HandlerContext.NONE);
    // the builder from toBuilder is independent of the original
    CollectorOptions.Builder b = o.toBuilder();
    b.name("changed");
    assertEquals("x.y_z-1", o.name());
    assertNotEquals(o, null);
    assertNotEquals(o, "x");
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void options_invalidValues_throwIllegalArgumentNamingParameter() {
    assertNamed(
        "depth", () -> CollectorOptions.builder().depth(CollectorOptions.MAX_DEPTH + 1).build());
    assertNamed("depth", () -> CollectorOptions.builder().depth(0).build());
    assertNamed("concurrency", () -> CollectorOptions.builder().concurrency(-1).build());
    assertNamed(
        "concurrency",
        () -> CollectorOptions.builder().concurrency(CollectorOptions.MAX_DEPTH + 1).build());
    assertNamed(
        "drainTimeout",
        () -> CollectorOptions.builder().drainTimeout(Duration.ofNanos(-1)).build());
    assertNamed(
        "batchTimeout",
        () -> CollectorOptions.builder().batchTimeout(Duration.ofNanos(-1)).build());
    assertNamed(
        "commitInterval",
        () -> CollectorOptions.builder().commitInterval(Duration.ofNanos(-1)).build());
    assertNamed("name", () -> CollectorOptions.builder().name("").build());
    assertNamed("name", () -> CollectorOptions.builder().name("a".repeat(65)).build());
    assertNamed("name", () -> CollectorOptions.builder().name("a b").build());
    assertDoesNotThrow(() -> CollectorOptions.builder().name("a".repeat(64)).build());
    assertThrows(
        NullPointerException.class, () -> CollectorOptions.builder().handlerContext(null).build());
  }

  static void assertNamed(String param, org.junit.jupiter.api.function.Executable e) {
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
    assertTrue(x.getMessage().contains(param), param + ": " + x.getMessage());
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void options_hugeDurations_buildAndARunFinishesWithoutOverflow() throws Exception {
    CollectorOptions o =
        CollectorOptions.builder()
            .batchTimeout(HUGE)
            .drainTimeout(HUGE)
            .stuckThreshold(HUGE)
            .commitInterval(HUGE)
            .fetchRetry(Retry.of(Integer.MAX_VALUE, HUGE, HUGE))
            .commitRetry(Retry.of(Integer.MAX_VALUE, Duration.ZERO, HUGE))
            .build();
    List<List<Long>> list = LongStream.range(0, 50).mapToObj(i -> List.of(i)).toList();
    try (Collector<Long> c =
        Collecting.open(Collecting.listSource(list), Collecting.inMemoryStore(), o)) {
      ProcessSummary s = c.process(4, b -> {});
      assertEquals(50, s.batches(), "no overflowed timeout fired: " + s);
      assertEquals(50, s.checkpoint().sequence(), "final commit never lingers");
    }
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void retry_delay_extremeValues_staysWithinBound() {
    Retry r = Retry.of(Integer.MAX_VALUE, Duration.ofNanos(1), HUGE);
    Random random = new Random(1);
    for (int failed : new int[] {1, 2, 62, 63, 64, 65, 1000, Integer.MAX_VALUE}) {
      Duration d = r.delay(failed, random);
      assertTrue(!d.isNegative() && d.compareTo(HUGE) <= 0, failed + " -> " + d);
    }
    Retry big = Retry.of(3, HUGE, HUGE);
    for (int failed : new int[] {1, 2, 3}) {
      Duration d = big.delay(failed, random);
      assertTrue(!d.isNegative() && d.compareTo(HUGE) <= 0, failed + " -> " + d);
    }
    Retry small = Retry.of(3, Duration.ofMillis(10), Duration.ofMillis(40));
    for (int i = 0; i < 1000; i++) {
      Duration d = small.delay(10, random);
      assertTrue(d.compareTo(Duration.ofMillis(40)) <= 0 && !d.isNegative(), d.toString());
    }
    assertNamed("maxAttempts", () -> Retry.of(0, Duration.ZERO, Duration.ZERO));
    assertNamed("initialBackoff", () -> Retry.of(1, Duration.ofNanos(-1), Duration.ZERO));
    assertNamed("maxBackoff", () -> Retry.of(1, Duration.ofSeconds(2), Duration.ofSeconds(1)));
    assertThrows(NullPointerException.class, () -> Retry.of(1, null, Duration.ZERO));
    assertEquals(
        Retry.of(2, Duration.ZERO, Duration.ZERO), Retry.of(2, Duration.ZERO, Duration.ZERO));
    assertEquals(
        Retry.of(2, Duration.ZERO, Duration.ZERO).hashCode(),
        Retry.of(2, Duration.ZERO, Duration.ZERO).hashCode());
    assertEquals(Retry.NONE, Retry.of(1, Duration.ZERO, Duration.ZERO));
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void failurePolicy_equals_sameHandlerSameRetry() {
    DeadLetterHandler dl = (b, f) -> {};
    Retry r = Retry.of(3, Duration.ZERO, Duration.ZERO);
    assertEquals(
        FailurePolicy.retry(r).thenDeadLetter(dl), FailurePolicy.retry(r).thenDeadLetter(dl));
    assertEquals(
        FailurePolicy.retry(r).thenDeadLetter(dl).hashCode(),
        FailurePolicy.retry(r).thenDeadLetter(dl).hashCode());
    assertNotEquals(
        FailurePolicy.retry(r).thenDeadLetter(dl),
        FailurePolicy.retry(r).thenDeadLetter((b, f) -> {}));
    assertNotEquals(FailurePolicy.retry(r), FailurePolicy.retry(r).thenDeadLetter(dl));
    assertEquals(FailurePolicy.failFast(), FailurePolicy.retry(Retry.NONE));
    assertThrows(NullPointerException.class, () -> FailurePolicy.retry(null));
    assertThrows(NullPointerException.class, () -> FailurePolicy.failFast().thenDeadLetter(null));
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void batchOf_mutableListMutatedAfterwards_batchUnchanged() {
    List<String> mutable = new ArrayList<>(List.of("a", "b"));
    Batch<String> b = Batch.of(0, mutable);
    Batch<String> b4 = Batch.of(1, mutable, "t", 2);
    mutable.add("c");
    mutable.set(0, "z");
    assertEquals(List.of("a", "b"), b.records());
    assertEquals(List.of("a", "b"), b4.records());
    assertEquals(2, b.size());
    assertThrows(UnsupportedOperationException.class, () -> b.records().add("x"));
    assertThrows(UnsupportedOperationException.class, () -> b4.records().add("x"));
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void batchOf_unmodifiableViewOfMutableList_batchStillImmutable() {
    List<String> backing = new ArrayList<>(List.of("a", "b"));
    Batch<String> b = Batch.of(0, Collections.unmodifiableList(backing), "t", 1);
    Batch<String> b2 = Batch.of(0, Collections.unmodifiableList(backing));
    int hash = b.hashCode();
    backing.add("c");
    assertEquals(List.of("a", "b"), b2.records(), "2-arg copies");
    assertEquals(
        List.of("a", "b"),
        b.records(),
        "Batch is documented immutable; an unmodifiable view must not let it change");
    assertEquals(hash, b.hashCode());
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void batchOf_invalidArguments() {
    assertThrows(NullPointerException.class, () -> Batch.of(0, null));
    assertThrows(NullPointerException.class, () -> Batch.of(0, Arrays.asList("a", null)));
    assertThrows(NullPointerException.class, () -> Batch.of(0, List.of("a"), null, 1));
    assertThrows(
        NullPointerException.class, () -> Batch.of(0, Arrays.asList((String) null), "t", 1));
    IllegalArgumentException neg =
        assertThrows(IllegalArgumentException.class, () -> Batch.of(-1, List.of()));
    assertTrue(neg.getMessage().contains("sequence"), neg.getMessage());
    IllegalArgumentException att =
        assertThrows(IllegalArgumentException.class, () -> Batch.of(0, List.of(), "t", 0));
    assertTrue(att.getMessage().contains("attempt"), att.getMessage());
    assertDoesNotThrow(() -> Batch.of(Long.MAX_VALUE, List.of()));
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void batch_equalsHashCode_nextAttempt() {
    Batch<String> a = Batch.of(3, List.of("x"), "tok", 1);
    Batch<String> b = Batch.of(3, new ArrayList<>(List.of("x")), "tok", 1);
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertEquals(Batch.of(3, List.of("x")), Batch.of(3, List.of("x"), "", 1));
    Batch<String> n = a.nextAttempt();
    assertEquals(2, n.attempt());
    assertEquals(a.records(), n.records());
    assertEquals(a.resumeToken(), n.resumeToken());
    assertNotEquals(a, n);
    assertEquals(1, a.attempt(), "nextAttempt does not mutate");
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void batch_nextAttemptAtMaxInt_neverBelowOne() {
    Batch<String> max = Batch.of(0, List.of(), "t", Integer.MAX_VALUE);
    Batch<String> next;
    try {
      next = max.nextAttempt();
    } catch (RuntimeException e) {
      return; // refusing is fine
    }
    assertTrue(next.attempt() >= 1, "attempt is documented at least 1, got " + next.attempt());
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void progress_builderViolatingInvariants_throwsNamingTheProblem() {
    assertNamed(
        "committed", () -> Progress.builder().fetched(5).acknowledged(3).committed(4).build());
    assertNamed(
        "acknowledged", () -> Progress.builder().fetched(2).acknowledged(3).committed(1).build());
    assertThrows(IllegalArgumentException.class, () -> Progress.builder().running(-1).build());
    assertThrows(IllegalArgumentException.class, () -> Progress.builder().committed(-1).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> Progress.builder().oldestRunning(Duration.ofNanos(-1)).build());
    assertThrows(NullPointerException.class, () -> Progress.builder().oldestRunning(null).build());
    Progress p =
        Progress.builder()
            .fetched(10)
            .acknowledged(8)
            .committed(4)
            .inFlight(6)
            .running(2)
            .waiting(1)
            .capacity(16)
            .oldestRunning(Duration.ofSeconds(1))
            .stuck(1)
            .build();
    Progress q =
        Progress.builder()
            .fetched(10)
            .acknowledged(8)
            .committed(4)
            .inFlight(6)
            .running(2)
            .waiting(1)
            .capacity(16)
            .oldestRunning(Duration.ofSeconds(1))
            .stuck(1)
            .build();
    assertEquals(p, q);
    assertEquals(p.hashCode(), q.hashCode());
    assertNotEquals(p, Progress.builder().fetched(10).acknowledged(8).committed(4).build());
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void progress_inFlightAboveCapacity_acceptedAsDocumented() {
    // Progress.Builder.build(): inFlight <= capacity is not checked (a snapshot taken while a run
    // starts or ends may see the old capacity, and progress() never throws).
    Progress p =
        Progress.builder()
            .fetched(10)
            .acknowledged(10)
            .committed(0)
            .inFlight(10)
            .capacity(4)
            .build();
    assertEquals(10, p.inFlight());
    assertEquals(4, p.capacity());
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void processSummary_builder_nullsAndEquality() {
    assertThrows(NullPointerException.class, () -> ProcessSummary.builder().duration(null).build());
    assertThrows(
        NullPointerException.class, () -> ProcessSummary.builder().checkpoint(null).build());
    ProcessSummary a =
        ProcessSummary.builder()
            .batches(3)
            .records(9)
            .commits(2)
            .duration(Duration.ofMillis(5))
            .stopped(true)
            .uncommitted(1)
            .deadLettered(1)
            .checkpoint(new Checkpoint(3, "t"))
            .build();
    ProcessSummary b =
        ProcessSummary.builder()
            .batches(3)
            .records(9)
            .commits(2)
            .duration(Duration.ofMillis(5))
            .stopped(true)
            .uncommitted(1)
            .deadLettered(1)
            .checkpoint(new Checkpoint(3, "t"))
            .build();
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertNotEquals(a, ProcessSummary.builder().build());
    assertEquals(Checkpoint.INITIAL, ProcessSummary.builder().build().checkpoint());
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void processSummary_negativeFigures_refusedNamingTheFigure() {
    assertMessage("batches must be >= 0, was -1", ProcessSummary.builder().batches(-1));
    assertMessage("records must be >= 0, was -2", ProcessSummary.builder().records(-2));
    assertMessage("commits must be >= 0, was -3", ProcessSummary.builder().commits(-3));
    assertMessage("uncommitted must be >= 0, was -4", ProcessSummary.builder().uncommitted(-4));
    assertMessage("deadLettered must be >= 0, was -5", ProcessSummary.builder().deadLettered(-5));
    assertMessage(
        "duration must be >= 0, was PT-1S",
        ProcessSummary.builder().duration(Duration.ofSeconds(-1)));
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void processSummary_relationsBetweenCounts_notRulesOfTheType() {
    // build(): dead letters counted in batches and commits <= batches are what collector-core
    // reports, not rules of the type (a Kafka collector may commit more often than it settles).
    ProcessSummary s = ProcessSummary.builder().batches(1).deadLettered(2).commits(3).build();
    assertEquals(2, s.deadLettered());
    assertEquals(3, s.commits());
  }

  private static void assertMessage(String message, ProcessSummary.Builder builder) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
    assertEquals(message, e.getMessage());
  }
}
