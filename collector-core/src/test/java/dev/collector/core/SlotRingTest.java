package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The slot ring in isolation; its concurrent core is model-checked separately. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class SlotRingTest {

  @Test
  void settle_outOfOrder_frontierWaitsForTheGapThenJumps() {
    var ring = new SlotRing(4, new Checkpoint(10, "t10"));
    for (int i = 0; i < 4; i++) {
      ring.add("t" + (11 + i), 1);
    }
    assertFalse(ring.settle(12));
    assertFalse(ring.settle(11));
    assertEquals(10, ring.acked());
    assertTrue(ring.settle(10));
    assertEquals(13, ring.acked());
    assertEquals(new Checkpoint(13, "t13"), ring.checkpointAt(ring.acked()));
  }

  @Test
  void add_beyondDepth_throwsUntilACommitFreesSlots() {
    var ring = new SlotRing(2, Checkpoint.INITIAL);
    ring.add("a", 3);
    ring.add("b", 4);
    assertFalse(ring.hasRoom());
    assertThrows(IllegalStateException.class, () -> ring.add("c", 1));
    ring.settle(0);
    assertFalse(ring.hasRoom(), "a settled batch holds its slot until it is committed (G3)");
    ring.committed(ring.checkpointAt(1));
    assertTrue(ring.hasRoom());
    assertEquals(3, ring.committedRecords());
    assertEquals(new Checkpoint(1, "a"), ring.durable());
  }

  @Test
  void slotReuse_staleTagOfThePreviousBatchNeverCountsAsSettled() {
    var ring = new SlotRing(1, Checkpoint.INITIAL);
    ring.add("a", 1);
    ring.settle(0);
    ring.committed(ring.checkpointAt(1));
    ring.add("b", 1); // reuses slot 0, whose tag still says "0 settled"
    assertFalse(ring.isSettled(1));
    assertEquals(1, ring.acked());
  }

  @Test
  void stoppedRunning_dropsTheThread_soAFinishedBatchHoldsNone() {
    var ring = new SlotRing(2, Checkpoint.INITIAL);
    ring.add("a", 1);
    ring.running(0, Thread.currentThread());
    ring.attemptStarted(0, System.nanoTime());
    assertSame(Thread.currentThread(), ring.thread(0));
    ring.settle(0);
    assertNull(ring.thread(0));
    assertEquals(0, ring.attemptStart(0));
  }

  @Test
  void progress_readsPositionsConsistently() {
    var ring = new SlotRing(8, Checkpoint.INITIAL);
    for (int i = 0; i < 5; i++) {
      ring.add("t" + i, 1);
    }
    ring.settle(0);
    ring.settle(2);
    ring.committed(ring.checkpointAt(1));
    var p = ring.progress(2, 1, Duration.ZERO);
    assertEquals(5, p.fetched());
    assertEquals(1, p.acknowledged());
    assertEquals(1, p.committed());
    assertEquals(4, p.inFlight());
    assertEquals(2, p.running());
    assertEquals(1, p.waiting());
    assertEquals(8, p.capacity());
  }

  /** Many threads settle a shuffled window at once; the frontier must end at the top. */
  @Test
  void settle_concurrentShuffled_frontierReachesEveryContiguousPrefix() throws Exception {
    long seed = Long.getLong("collector.seed", System.nanoTime());
    System.out.println("SlotRingTest seed " + seed + " (rerun with -Dcollector.seed=" + seed + ")");
    var random = new SplittableRandom(seed);
    int depth = 64;
    for (int round = 0; round < 200; round++) {
      var ring = new SlotRing(depth, Checkpoint.INITIAL);
      List<Long> order = new ArrayList<>();
      for (long s = 0; s < depth; s++) {
        ring.add("t" + s, 1);
        order.add(s);
      }
      Collections.shuffle(order, new java.util.Random(random.nextLong()));
      int threads = 4;
      var start = new CountDownLatch(1);
      var workers = new ArrayList<Thread>();
      for (int t = 0; t < threads; t++) {
        int from = t * depth / threads;
        int to = (t + 1) * depth / threads;
        workers.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        start.await();
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                      }
                      for (int i = from; i < to; i++) {
                        ring.settle(order.get(i));
                      }
                    }));
      }
      start.countDown();
      for (Thread w : workers) {
        w.join();
      }
      assertEquals(depth, ring.acked(), "seed " + seed + " round " + round);
    }
  }
}
