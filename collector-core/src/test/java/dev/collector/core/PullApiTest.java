package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AckOrdering;
import dev.collector.BatchAbandonedException;
import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The pull API: deliveries, out-of-order acks under the caller's own threads, G9's flush. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PullApiTest {

  private final Set<Long> handled = ConcurrentHashMap.newKeySet();

  /** G1 on every commit: each newly covered batch was handled before its ack. */
  private final RecordingCheckpointStore store =
      new RecordingCheckpointStore(
          null,
          (previous, next) -> {
            for (long s = previous.sequence(); s < next.sequence(); s++) {
              if (!handled.contains(s)) {
                throw new AssertionError("committed batch " + s + " that was never handled");
              }
            }
          });

  private Collector<Long> collector(long batches, int depth, AckOrdering ordering) {
    return Collecting.open(
        FakeSource.generated(batches, 2),
        store,
        CollectorOptions.builder().name("pull").depth(depth).ackOrdering(ordering).build());
  }

  @Test
  void next_callersOwnExecutorAckingOutOfOrder_commitsEverythingInOrder() throws Exception {
    long seed = Long.getLong("collector.seed", System.nanoTime());
    int batches = 5_000;
    try (Collector<Long> collector = collector(batches, 16, AckOrdering.BUFFERED);
        ExecutorService workers = Executors.newFixedThreadPool(4)) {
      List<Future<Integer>> results = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        Random random = new Random(seed + w);
        results.add(
            workers.submit(
                () -> {
                  int acked = 0;
                  for (Delivery<Long> first; (first = collector.next()) != null; ) {
                    // Hold up to three deliveries, taking more only when they are ready, so a
                    // worker never waits for the window while holding part of it.
                    List<Delivery<Long>> held = new ArrayList<>(List.of(first));
                    for (Delivery<Long> more;
                        held.size() < 3 && (more = collector.tryNext()) != null; ) {
                      held.add(more);
                    }
                    Collections.shuffle(held, random);
                    for (Delivery<Long> d : held) {
                      handled.add(d.batch().sequence());
                      assertTrue(d.ack(), "first ack of " + d);
                      acked++;
                    }
                  }
                  return acked;
                }));
      }
      int total = 0;
      for (Future<Integer> r : results) {
        total += r.get(20, TimeUnit.SECONDS);
      }
      assertEquals(batches, total, "seed " + seed);
      assertTrue(collector.isExhausted());
      assertEquals(new Checkpoint(batches, "" + batches), collector.awaitCommitted());
      assertEquals(batches, store.current().sequence());
    }
    store.assertNoViolation();
  }

  @Test
  void close_pullSession_noThreadOutlivesIt() throws Exception {
    var threads = new Threads();
    Collector<Long> collector =
        Collecting.open(
            new Sources.Observed<>(FakeSource.generated(100, 1), threads),
            Sources.observed(store, threads),
            CollectorOptions.builder().depth(8).build());
    Delivery<Long> d = collector.next();
    handled.add(0L);
    d.ack();
    collector.awaitCommitted(); // the committer ran
    collector.close();
    assertEquals(2, threads.seen().size(), "fetcher and committer");
    threads.assertAllEnded();
    assertEquals(1, store.current().sequence());
  }

  @Test
  void awaitCommitted_coversAckedPrefixOnly() throws Exception {
    try (Collector<Long> collector = collector(10, 8, AckOrdering.BUFFERED)) {
      List<Delivery<Long>> ds = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        ds.add(collector.next());
      }
      for (int i : new int[] {0, 1, 3}) {
        handled.add((long) i);
        ds.get(i).ack();
      }
      assertEquals(new Checkpoint(2, "2"), collector.awaitCommitted());
      assertEquals(new Checkpoint(2, "2"), store.current()); // durable when it returned
      handled.add(2L);
      ds.get(2).ack();
      assertEquals(new Checkpoint(4, "4"), collector.awaitCommitted());
    }
  }

  @Test
  void next_exhausted_returnsNullDistinctly() throws Exception {
    try (Collector<Long> collector = collector(2, 4, AckOrdering.BUFFERED)) {
      Delivery<Long> a = collector.next();
      Delivery<Long> b = collector.next();
      assertNotNull(a);
      assertNotNull(b);
      assertNull(collector.next());
      assertTrue(collector.isExhausted());
      assertNull(collector.tryNext());
      assertNull(collector.next(Duration.ofMillis(1)));
    }
  }

  @Test
  void nextWithTimeout_nothingArrives_returnsNullNotExhausted() throws Exception {
    var fetching = new CountDownLatch(1);
    Collector<Long> collector =
        Collecting.open(
            token ->
                new SourceReader<Long>() {
                  @Override
                  public SourceBatch<Long> next() throws InterruptedException {
                    fetching.countDown();
                    new CountDownLatch(1).await(); // a follow-mode source with no new data
                    throw new AssertionError("unreachable");
                  }

                  @Override
                  public void close() {}
                },
            store,
            CollectorOptions.defaults());
    assertNull(collector.tryNext());
    assertTrue(fetching.await(10, TimeUnit.SECONDS));
    assertNull(collector.next(Duration.ofMillis(20)));
    assertFalse(collector.isExhausted());
    collector.close(); // interrupts the waiting fetch and returns
  }

  @Test
  void close_unsettledDelivery_failsItAsAbandonedAndRedeliversIt() throws Exception {
    try (Collector<Long> collector = collector(5, 4, AckOrdering.BUFFERED)) {
      Delivery<Long> first = collector.next();
      handled.add(0L);
      first.ack();
      try (Delivery<Long> forgotten = collector.next()) {
        assertEquals(1, forgotten.batch().sequence());
      }
      BatchFailedException e = assertThrows(BatchFailedException.class, collector::next);
      assertEquals(1, e.sequence());
      assertInstanceOf(BatchAbandonedException.class, e.getCause());
      assertEquals(new Checkpoint(1, "1"), e.committed());
      Delivery<Long> again = collector.next(); // a new epoch starts at the checkpoint
      assertEquals(1, again.batch().sequence());
      assertEquals(List.of(2L, 3L), again.batch().records());
    }
  }

  @Test
  void fail_thenNext_reportsOnceThenRedelivers() throws Exception {
    try (Collector<Long> collector = collector(5, 4, AckOrdering.BUFFERED)) {
      Delivery<Long> zero = collector.next();
      Delivery<Long> one = collector.next();
      var cause = new IllegalStateException("bad record");
      assertTrue(one.fail(cause));
      assertFalse(one.fail(cause), "failing again is harmless");
      // The failed epoch still accepts acks of its other deliveries until next() reports it.
      handled.add(0L);
      assertTrue(zero.ack());
      BatchFailedException e = assertThrows(BatchFailedException.class, collector::next);
      assertEquals(cause, e.getCause());
      assertEquals(new Checkpoint(1, "1"), e.committed());
      assertEquals(1, collector.next().batch().sequence());
    }
  }
}
