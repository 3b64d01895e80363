package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AckOrdering;
import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.MisuseException;
import dev.collector.OutOfOrderAckException;
import dev.collector.Progress;
import dev.collector.ReentrantCallException;
import dev.collector.StaleDeliveryException;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** G6: each misuse throws its own exception, names the batch and the remedy, changes nothing. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class MisuseTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();

  private Collector<Long> collector(AckOrdering ordering) {
    return Collecting.open(
        FakeSource.generated(20, 1),
        store,
        CollectorOptions.builder().name("misuse").depth(4).ackOrdering(ordering).build());
  }

  /** Runs the misuse and checks its exception, message and that committed state is unchanged. */
  private <E extends MisuseException> E assertMisuse(
      Class<E> type, Supplier<Progress> progress, Executable misuse, String... mentions) {
    List<Checkpoint> historyBefore = store.history();
    Progress before = progress.get();
    E e = assertThrows(type, misuse);
    for (String m : mentions) {
      assertTrue(e.getMessage().contains(m), "message lacks '" + m + "': " + e.getMessage());
    }
    assertEquals(historyBefore, store.history(), "a misuse changed committed state");
    Progress after = progress.get();
    assertEquals(before.committed(), after.committed());
    assertEquals(before.acknowledged(), after.acknowledged());
    assertEquals(before.running(), after.running());
    return e;
  }

  @Test
  void ack_twice_isHarmlessAndReturnsFalse() throws Exception {
    try (Collector<Long> c = collector(AckOrdering.BUFFERED)) {
      Delivery<Long> d = c.next();
      assertTrue(d.ack());
      assertFalse(d.ack());
      c.awaitCommitted();
      assertFalse(d.ack(), "after its commit too");
      assertEquals(1, store.current().sequence());
    }
  }

  @Test
  void fail_afterAck_throwsConflictingOutcome() throws Exception {
    try (Collector<Long> c = collector(AckOrdering.BUFFERED)) {
      Delivery<Long> d = c.next();
      d.ack();
      var e =
          assertMisuse(
              ConflictingOutcomeException.class,
              c::progress,
              () -> d.fail(new RuntimeException()),
              "batch 0",
              "already acknowledged");
      assertEquals(0, e.sequence());
    }
  }

  @Test
  void ack_afterFail_throwsConflictingOutcome() throws Exception {
    try (Collector<Long> c = collector(AckOrdering.BUFFERED)) {
      c.next();
      Delivery<Long> d = c.next();
      d.fail(new RuntimeException("bad"));
      assertMisuse(
          ConflictingOutcomeException.class, c::progress, d::ack, "batch 1", "already failed");
    }
  }

  @Test
  void ack_afterClose_throwsCollectorClosed() throws Exception {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    Delivery<Long> d = c.next();
    c.close();
    assertMisuse(CollectorClosedException.class, c::progress, d::ack, "batch 0", "new collector");
    assertMisuse(CollectorClosedException.class, c::progress, () -> d.fail(new RuntimeException()));
    d.close(); // closing an unsettled delivery after close() is harmless
  }

  @Test
  void closedCollector_nextAndProcess_throwCollectorClosed_closeAgainIsHarmless() {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    c.close();
    c.close();
    assertMisuse(CollectorClosedException.class, c::progress, c::next, "next()");
    assertMisuse(
        CollectorClosedException.class, c::progress, () -> c.process(2, b -> {}), "process()");
  }

  @Test
  void ack_fromEarlierEpoch_throwsStaleDelivery() throws Exception {
    try (Collector<Long> c = collector(AckOrdering.BUFFERED)) {
      Delivery<Long> zero = c.next();
      Delivery<Long> one = c.next();
      one.fail(new RuntimeException("bad"));
      assertThrows(BatchFailedException.class, c::next); // ends epoch 1, reports the failure
      var e =
          assertMisuse(
              StaleDeliveryException.class, c::progress, zero::ack, "batch 0", "delivered again");
      assertEquals(0, e.sequence());
      Delivery<Long> redelivered = c.next();
      assertEquals(0, redelivered.batch().sequence());
      assertTrue(redelivered.ack());
    }
  }

  @Test
  void ack_strictOutOfOrder_throwsAndNamesBothSequences() throws Exception {
    try (Collector<Long> c = collector(AckOrdering.STRICT)) {
      Delivery<Long> zero = c.next();
      Delivery<Long> one = c.next();
      var e =
          assertMisuse(
              OutOfOrderAckException.class,
              c::progress,
              one::ack,
              "batch 1",
              "batch 0",
              "AckOrdering.BUFFERED");
      assertEquals(1, e.sequence());
      assertEquals(0, e.expected());
      assertTrue(zero.ack());
      assertTrue(one.ack());
      assertEquals(2, c.awaitCommitted().sequence());
    }
  }

  @Test
  void next_fromOwnHandler_throwsReentrantCall() {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    var failed = assertThrows(BatchFailedException.class, () -> c.process(1, b -> c.next()));
    var e = assertInstanceOf(ReentrantCallException.class, failed.getCause());
    assertEquals(0, e.sequence());
    assertTrue(e.getMessage().contains("handler of batch 0"), e.getMessage());
    assertEquals(Checkpoint.INITIAL, failed.committed());
  }

  @Test
  void close_fromOwnHandler_throwsReentrantCallInsteadOfDeadlocking() {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    var failed = assertThrows(BatchFailedException.class, () -> c.process(2, b -> c.close()));
    assertInstanceOf(ReentrantCallException.class, failed.getCause());
  }

  @Test
  void process_fromOwnHandler_throwsReentrantCall() {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    var failed =
        assertThrows(BatchFailedException.class, () -> c.process(2, b -> c.process(2, x -> {})));
    assertInstanceOf(ReentrantCallException.class, failed.getCause());
  }

  @Test
  void process_whileProcessOrPullActive_throwsConcurrentUse() throws Exception {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    var controller = new CompletionController<Long>();
    BackgroundRun run = BackgroundRun.start(c, 2, controller);
    controller.awaitStarted(0, WAIT);
    controller.awaitStarted(1, WAIT); // window full: nothing moves until the test releases
    assertMisuse(
        ConcurrentUseException.class, c::progress, () -> c.process(2, b -> {}), "process()");
    assertMisuse(ConcurrentUseException.class, c::progress, c::next, "next()");
    controller.releaseAll();
    assertEquals(20, run.await(WAIT).batches(), "the running process() was disturbed");

    Collector<Long> pulling =
        Collecting.open(FakeSource.generated(50, 1), store, CollectorOptions.defaults());
    pulling.next();
    assertMisuse(
        ConcurrentUseException.class,
        pulling::progress,
        () -> pulling.process(2, b -> {}),
        "pull session");
    pulling.close();
  }

  @Test
  void process_nullHandler_throwsNullPointerNamingIt() {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    var e = assertThrows(NullPointerException.class, () -> c.process(2, null));
    assertTrue(e.getMessage().contains("handler"), e.getMessage());
    assertEquals(List.of(), store.history());
  }

  @Test
  void fail_nullCause_throwsNullPointerAndChangesNothing() throws Exception {
    try (Collector<Long> c = collector(AckOrdering.BUFFERED)) {
      Delivery<Long> d = c.next();
      var e = assertThrows(NullPointerException.class, () -> d.fail(null));
      assertTrue(e.getMessage().contains("cause"), e.getMessage());
      assertTrue(d.ack(), "the delivery is still unsettled");
    }
  }

  @Test
  void source_batchesAfterEndOfSource_areNeverRead() throws Exception {
    var calls = new java.util.concurrent.atomic.AtomicInteger();
    Collector<Long> c =
        Collecting.open(
            token ->
                new dev.collector.SourceReader<Long>() {
                  @Override
                  public dev.collector.SourceBatch<Long> next() {
                    int call = calls.incrementAndGet();
                    // batches 1-2, then end, then (wrongly) more batches
                    return call == 3
                        ? null
                        : new dev.collector.SourceBatch<>(
                            List.of((long) call), Integer.toString(call));
                  }

                  @Override
                  public void close() {}
                },
            store,
            CollectorOptions.defaults());
    assertEquals(2, c.process(4, b -> {}).batches());
    assertEquals(3, calls.get(), "the reader was called again after it signalled the end");
    assertEquals(new Checkpoint(2, "2"), store.current());
  }

  @Test
  void tryNextAndAwaitCommitted_afterClose() throws Exception {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    Delivery<Long> d = c.next();
    d.ack();
    c.close();
    assertMisuse(CollectorClosedException.class, c::progress, c::tryNext, "next()");
    assertEquals(1, c.awaitCommitted().sequence(), "awaitCommitted answers the final checkpoint");
  }

  @ParameterizedTest
  @ValueSource(ints = {0, -1, CollectorOptions.MAX_DEPTH + 1})
  void process_depthOutOfRange_throwsIllegalArgumentNamingDepth(int depth) {
    Collector<Long> c = collector(AckOrdering.BUFFERED);
    var e = assertThrows(IllegalArgumentException.class, () -> c.process(depth, b -> {}));
    assertTrue(e.getMessage().contains("depth") && e.getMessage().contains("" + depth));
    assertEquals(List.of(), store.history());
  }

  @Test
  void options_invalid_throwIllegalArgumentNamingParameterAndValue() {
    var name =
        assertThrows(
            IllegalArgumentException.class, () -> CollectorOptions.builder().name("a b").build());
    assertTrue(name.getMessage().contains("name") && name.getMessage().contains("a b"));
    var drain =
        assertThrows(
            IllegalArgumentException.class,
            () -> CollectorOptions.builder().drainTimeout(Duration.ofSeconds(-1)).build());
    assertTrue(drain.getMessage().contains("drainTimeout"));
  }
}
