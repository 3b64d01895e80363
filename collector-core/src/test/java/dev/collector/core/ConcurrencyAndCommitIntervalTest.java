package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.ProcessSummary;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The two options engine v2 added: {@code concurrency} and {@code commitInterval}. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConcurrencyAndCommitIntervalTest {

  @Test
  void process_concurrencyBelowDepth_runsAtMostThatManyHandlers_readsAheadToDepth()
      throws Exception {
    var store = new RecordingCheckpointStore();
    var running = new AtomicInteger();
    var maxRunning = new AtomicInteger();
    var maxAhead = new AtomicInteger();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(400, 1),
            store,
            CollectorOptions.builder().name("conc").concurrency(3).build());
    ProcessSummary summary =
        c.process(
            64,
            batch -> {
              int now = running.incrementAndGet();
              maxRunning.accumulateAndGet(now, Math::max);
              maxAhead.accumulateAndGet(c.progress().inFlight(), Math::max);
              Thread.sleep(1); // a little work, so that handlers overlap
              running.decrementAndGet();
            });
    assertEquals(400, summary.batches());
    assertTrue(maxRunning.get() <= 3, "ran " + maxRunning.get() + " handlers at once");
    assertTrue(maxRunning.get() >= 2, "concurrency 3 should let handlers overlap");
    assertTrue(maxAhead.get() <= 64, "in flight " + maxAhead.get());
    c.close();
  }

  @Test
  void pull_concurrency_boundsUnsettledDeliveries_evenWithBatchesFetched() throws Exception {
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(20, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("pconc").depth(8).concurrency(2).build());
    Delivery<Long> first = c.next();
    Delivery<Long> second = c.next();
    assertNotNull(first);
    assertNotNull(second);
    await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().fetched() == 8);
    assertNull(c.tryNext(), "two deliveries are unsettled: concurrency 2 is reached");
    assertNull(c.next(Duration.ofMillis(50)));
    first.ack();
    Delivery<Long> third = c.next(Duration.ofSeconds(10));
    assertNotNull(third, "settling one frees one");
    assertEquals(2, third.batch().sequence());
    second.ack();
    third.ack();
    c.close();
  }

  /** A lingering final commit would take a minute: the 20 s timeout catches it. */
  @Test
  @Timeout(value = 20, unit = TimeUnit.SECONDS)
  void commitInterval_coalescesCommits_andTheFinalCommitDoesNotLinger() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(200, 1),
            store,
            CollectorOptions.builder()
                .name("linger")
                .commitInterval(Duration.ofMinutes(1))
                .build());
    ProcessSummary summary = c.process(1024, batch -> {});
    assertEquals(200, summary.batches());
    assertEquals(200, store.current().sequence());
    // within one interval: at most one commit as soon as there is something, and the final one
    assertTrue(summary.commits() <= 2, summary.commits() + " commits");
    c.close();
  }

  @Test
  void commitInterval_longerThanFillingTheWindow_neverStallsTheRun() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(50, 1),
            store,
            CollectorOptions.builder()
                .name("linger-full")
                .commitInterval(Duration.ofDays(3650))
                .build());
    ProcessSummary summary = c.process(4, batch -> {}); // the window fills at once, again and again
    assertEquals(50, summary.batches());
    c.close();
  }
}
