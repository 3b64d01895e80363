package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The window without a broker: a handler thread's turn, and the poll thread's wait for room. */
class WindowTest {

  private static final TopicPartition TP = new TopicPartition("t", 0);

  private static List<WorkUnit> units(PartitionTrack track, int from, int count) {
    List<WorkUnit> units = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      units.add(new WorkUnit(track, List.of(new ConsumerRecord<>("t", 0, i, "k" + i, "v")), null));
    }
    return units;
  }

  @Test
  @Timeout(10)
  void completeAndTake_clearsTheSettledUnitsInterrupt_andKeepsTheNextUnits() throws Exception {
    Window window = new Window(4);
    PartitionTrack track = window.assign(TP);
    List<WorkUnit> units = units(track, 0, 2);
    window.dispatch(units);
    try {
      WorkUnit first = window.take(); // this thread is the handler thread
      assertSame(units.get(0), first);
      window.interruptRunning(null); // meant for the first unit; the handler ignores it
      assertTrue(Thread.currentThread().isInterrupted());

      WorkUnit second = window.completeAndTake(first, true, false, null);

      assertSame(units.get(1), second);
      assertFalse(
          Thread.currentThread().isInterrupted(),
          "the first unit's interrupt leaked into the second unit");
      window.interruptRunning(null); // meant for the second unit: must arrive
      assertTrue(Thread.currentThread().isInterrupted());
    } finally {
      Thread.interrupted();
    }
  }

  @Test
  @Timeout(10)
  void awaitRoom_wakesOnceCommittingWouldReachTheTarget_notAtTheDeadline() throws Exception {
    Window window = new Window(4);
    PartitionTrack track = window.assign(TP);
    window.dispatch(units(track, 0, 4)); // full: room 0
    List<WorkUnit> running = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      running.add(window.takePulled(System.nanoTime() + TimeUnit.SECONDS.toNanos(1)));
    }
    long farDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    CompletableFuture<Boolean> waited = new CompletableFuture<>();
    Thread poller =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  try {
                    waited.complete(window.awaitRoom(2, farDeadline));
                  } catch (Throwable t) {
                    waited.completeExceptionally(t);
                  }
                });
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> poller.getState() == Thread.State.TIMED_WAITING);

    window.complete(running.get(0), true, false, null); // 1 committable: 0 + 1 < 2
    assertFalse(waited.isDone(), "woke before committing would free 2 units");
    window.complete(running.get(1), true, false, null); // 2 committable: the target

    assertTrue(waited.get(5, TimeUnit.SECONDS), "handled units wait for a commit");
    poller.join();
    List<Window.CommitPoint> points = window.commitPoints(null);
    assertEquals(1, points.size());
    assertEquals(2, points.get(0).offset());
    window.committed(points);
    assertEquals(2, window.room());
    assertNotNull(window.totals());
  }
}
