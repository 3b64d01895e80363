package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Batch;
import dev.collector.Checkpoint;
import dev.collector.ConflictingOutcomeException;
import dev.collector.OutOfOrderAckException;
import dev.collector.SourceBatch;
import dev.collector.StaleDeliveryException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The window in isolation: positions, ring reuse, group commit, settle rules. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class CompletionWindowTest {

  private static CompletionWindow<String> window(int depth) {
    return new CompletionWindow<>("w", depth, Checkpoint.INITIAL);
  }

  private static void fetch(CompletionWindow<String> w, int n) {
    for (int i = 0; i < n; i++) {
      long seq = w.fetchedSequence();
      w.add(new SourceBatch<>(List.of("r" + seq), "t" + (seq + 1)));
    }
  }

  private static void takeAll(CompletionWindow<String> w, int n) {
    for (int i = 0; i < n; i++) {
      assertNotNull(w.poll());
    }
  }

  @Test
  void ack_outOfOrder_frontierWaitsForGap() throws InterruptedException {
    var w = window(4);
    fetch(w, 4);
    takeAll(w, 4);
    assertTrue(w.ack(1, CompletionWindow.ANY_ATTEMPT, false));
    assertTrue(w.ack(3, CompletionWindow.ANY_ATTEMPT, false));
    assertEquals(0, w.progress().acknowledged());
    assertEquals(2, w.progress().waiting());
    assertTrue(w.ack(0, CompletionWindow.ANY_ATTEMPT, false));
    assertEquals(2, w.progress().acknowledged()); // 0,1 contiguous; 2 missing
    assertTrue(w.ack(2, CompletionWindow.ANY_ATTEMPT, false));
    assertEquals(4, w.progress().acknowledged());
    assertEquals(0, w.progress().waiting());
    // group commit: one checkpoint covers all four, with the last batch's token
    assertEquals(new Checkpoint(4, "t4"), w.awaitCommittable());
  }

  @Test
  void add_beyondDepth_isRefusedUntilCommitFreesSlots() throws InterruptedException {
    var w = window(2);
    fetch(w, 2);
    assertThrows(IllegalStateException.class, () -> fetch(w, 1));
    takeAll(w, 2);
    w.ack(0, CompletionWindow.ANY_ATTEMPT, false);
    Checkpoint cp = w.awaitCommittable();
    assertEquals(1, cp.sequence());
    // acked but not yet durable: the slot is still held
    assertThrows(IllegalStateException.class, () -> fetch(w, 1));
    w.committed(cp);
    fetch(w, 1); // batch 2 reuses slot 0
    Batch<String> b2 = w.poll();
    assertNotNull(b2);
    assertEquals(2, b2.sequence());
    assertEquals(List.of("r2"), b2.records());
  }

  @Test
  void ack_twice_returnsFalse_andAfterCommitToo() throws InterruptedException {
    var w = window(2);
    fetch(w, 1);
    takeAll(w, 1);
    assertTrue(w.ack(0, CompletionWindow.ANY_ATTEMPT, false));
    assertFalse(w.ack(0, CompletionWindow.ANY_ATTEMPT, false));
    w.committed(w.awaitCommittable());
    assertFalse(w.ack(0, CompletionWindow.ANY_ATTEMPT, false));
  }

  @Test
  void fail_afterAck_throwsConflict_andChangesNothing() {
    var w = window(2);
    fetch(w, 1);
    takeAll(w, 1);
    w.ack(0, CompletionWindow.ANY_ATTEMPT, false);
    var before = w.progress();
    assertThrows(ConflictingOutcomeException.class, () -> w.fail(0, new RuntimeException()));
    assertEquals(before.acknowledged(), w.progress().acknowledged());
    assertNull(w.failure());
  }

  @Test
  void ack_afterFail_throwsConflict() {
    var w = window(2);
    fetch(w, 1);
    takeAll(w, 1);
    assertTrue(w.fail(0, new RuntimeException("boom")));
    assertFalse(w.fail(0, new RuntimeException("again")));
    assertThrows(ConflictingOutcomeException.class, () -> w.ack(0, CompletionWindow.ANY_ATTEMPT, false));
    assertEquals(0, w.progress().acknowledged());
  }

  @Test
  void ack_strictOutOfOrder_throwsAndChangesNothing() {
    var w = window(4);
    fetch(w, 3);
    takeAll(w, 3);
    var e = assertThrows(OutOfOrderAckException.class, () -> w.ack(2, CompletionWindow.ANY_ATTEMPT, true));
    assertEquals(2, e.sequence());
    assertEquals(0, e.expected());
    assertEquals(2, w.progress().running() - 1); // still three running
    assertTrue(w.ack(0, CompletionWindow.ANY_ATTEMPT, true));
    assertTrue(w.ack(1, CompletionWindow.ANY_ATTEMPT, true));
    assertTrue(w.ack(2, CompletionWindow.ANY_ATTEMPT, true));
    assertEquals(3, w.progress().acknowledged());
  }

  @Test
  void ack_afterEnd_isStale() {
    var w = window(2);
    fetch(w, 1);
    takeAll(w, 1);
    w.end();
    assertThrows(StaleDeliveryException.class, () -> w.ack(0, CompletionWindow.ANY_ATTEMPT, false));
  }

  @Test
  void failure_afterCancel_isNotRecorded() {
    var w = window(2);
    fetch(w, 1);
    takeAll(w, 1);
    w.cancel();
    w.fail(0, new InterruptedException());
    assertNull(w.failure());
  }

  @Test
  void firstFailureWins_laterOnesKept_interruptsDropped() {
    var w = window(4);
    fetch(w, 3);
    takeAll(w, 3);
    var first = new RuntimeException("first");
    var second = new RuntimeException("second");
    w.fail(1, first);
    w.fail(0, second);
    w.fail(2, new RuntimeException(new InterruptedException()));
    var f = w.failure();
    assertNotNull(f);
    assertEquals(1, f.sequence());
    assertEquals(first, f.cause());
    assertEquals(List.of(second), f.later());
  }

  @Test
  void committer_finishing_exitsWhenNothingLeft() throws InterruptedException {
    var w = window(2);
    fetch(w, 2);
    takeAll(w, 2);
    w.ack(0, CompletionWindow.ANY_ATTEMPT, false);
    w.finish();
    Checkpoint cp = w.awaitCommittable();
    assertEquals(1, cp.sequence());
    w.committed(cp);
    assertNull(w.awaitCommittable());
    var totals = w.totals();
    assertEquals(1, totals.batches());
    assertEquals(1, totals.records());
    assertEquals(1, totals.commits());
    assertEquals(1, totals.uncommitted());
  }
}
