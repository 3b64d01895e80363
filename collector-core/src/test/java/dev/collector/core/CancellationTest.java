package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.SourceException;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** G4 (structure), G5 (interrupt, stop) and G7's default fail-fast policy. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class CancellationTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private final Threads threads = new Threads();
  private final RecordingCheckpointStore store = new RecordingCheckpointStore();
  private final Set<Long> interrupted = ConcurrentHashMap.newKeySet();

  private Collector<Long> collector(long batches, Duration drain) {
    return Collecting.open(
        new Sources.Observed<>(FakeSource.generated(batches, 1), threads),
        Sources.observed(store, threads),
        CollectorOptions.builder().name("cancel").drainTimeout(drain).build());
  }

  /** Holds batches in the controller and records those whose wait was interrupted. */
  private CompletionController<Long> controller() {
    return new CompletionController<>(b -> threads.record());
  }

  @Test
  void process_success_noThreadOutlivesCall() throws Exception {
    Collector<Long> c = collector(50, Duration.ofSeconds(30));
    c.process(8, b -> threads.record());
    assertTrue(threads.seen().size() >= 3, "expected handler, fetcher and committer threads");
    threads.assertAllEnded();
  }

  @Test
  void process_handlerFails_failFastCommitsPrefixInterruptsOthersAndThrows() throws Exception {
    var controller = controller();
    Collector<Long> c = collector(20, Duration.ofSeconds(30));
    BackgroundRun run =
        BackgroundRun.start(
            c,
            8,
            batch -> {
              threads.record();
              try {
                controller.handle(batch);
              } catch (InterruptedException e) {
                interrupted.add(batch.sequence());
                throw e;
              }
            });
    for (long s = 0; s < 8; s++) {
      controller.awaitStarted(s, WAIT);
    }
    controller.release(0);
    controller.release(1);
    controller.release(3); // acknowledged but behind the failure: must not be committed
    controller.awaitFinished(3, WAIT);
    controller.awaitStarted(9, WAIT); // 0 and 1 committed: their slots went to 8 and 9
    var boom = new IOException("boom");
    controller.fail(2, boom);

    Throwable thrown = run.awaitFailure(WAIT);
    BatchFailedException failed = assertInstanceOf(BatchFailedException.class, thrown);
    assertEquals(2, failed.sequence());
    assertSame(boom, failed.getCause());
    assertEquals(new Checkpoint(2, "2"), failed.committed());
    assertEquals(new Checkpoint(2, "2"), store.current());
    assertEquals(Set.of(4L, 5L, 6L, 7L, 8L, 9L), interrupted, "the other running handlers");
    assertTrue(failed.getMessage().contains("batch 2"), failed.getMessage());
    threads.assertAllEnded();
  }

  @Test
  void process_ownerInterrupted_cancelsCommitsPrefixThrowsWithStatusKept() throws Exception {
    var controller = controller();
    Collector<Long> c = collector(20, Duration.ofSeconds(30));
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    for (long s = 0; s < 4; s++) {
      controller.awaitStarted(s, WAIT);
    }
    controller.release(0);
    controller.release(2);
    controller.awaitFinished(2, WAIT);
    run.owner.interrupt();

    Throwable thrown = run.awaitFailure(WAIT);
    assertInstanceOf(InterruptedException.class, thrown);
    assertTrue(run.interruptStatusKept, "interrupt status was cleared");
    assertEquals(new Checkpoint(1, "1"), store.current()); // 0 acked; 1 never was; 2 is behind it
    threads.assertAllEnded();
    // The collector is usable again and resumes at batch 1.
    controller.releaseAll();
    ProcessSummary rest = c.process(4, controller);
    assertEquals(19, rest.batches());
  }

  @Test
  void stop_duringRun_stopsFetchingLetsRunningFinishCommitsAndReturns() throws Exception {
    var controller = controller();
    Collector<Long> c = collector(1000, Duration.ofSeconds(30));
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    for (long s = 0; s < 4; s++) {
      controller.awaitStarted(s, WAIT);
    }
    assertTrue(c.stop());
    assertTrue(c.stop(), "the run is still active (stopping): every stop() says so");
    controller.releaseAll(); // running handlers finish within the drain timeout

    ProcessSummary summary = run.await(WAIT);
    assertTrue(summary.stopped());
    assertEquals(4, summary.batches());
    assertEquals(0, summary.uncommitted());
    assertEquals(new Checkpoint(4, "4"), store.current());
    assertEquals(Set.of(0L, 1L, 2L, 3L), controller.started(), "dispatched after stop()");
    threads.assertAllEnded();
  }

  @Test
  void stop_handlersOutliveDrainTimeout_areInterruptedAndLeftUncommitted() throws Exception {
    var controller = controller();
    Collector<Long> c = collector(1000, Duration.ZERO);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            4,
            batch -> {
              try {
                controller.handle(batch);
              } catch (InterruptedException e) {
                interrupted.add(batch.sequence());
                throw e;
              }
            });
    for (long s = 0; s < 4; s++) {
      controller.awaitStarted(s, WAIT);
    }
    controller.release(0);
    controller.awaitStarted(4, WAIT); // 0 committed, its slot went to batch 4: window full again
    assertTrue(c.stop());

    ProcessSummary summary = run.await(WAIT);
    assertTrue(summary.stopped());
    assertEquals(1, summary.batches());
    assertEquals(4, summary.uncommitted());
    assertEquals(Set.of(1L, 2L, 3L, 4L), interrupted);
    assertEquals(new Checkpoint(1, "1"), store.current());
    threads.assertAllEnded();
  }

  @Test
  void stop_beforeStart_returnsFalseAndChangesNothing() {
    Collector<Long> c = collector(10, Duration.ZERO);
    assertFalse(c.stop());
    assertEquals(0, c.progress().committed());
  }

  @Test
  void process_sourceFails_throwsSourceExceptionWithPrefixCommitted() throws Exception {
    var boom = new IOException("disk gone");
    Collector<Long> c =
        Collecting.open(
            resumeToken ->
                new dev.collector.SourceReader<Long>() {
                  long next = resumeToken.isEmpty() ? 0 : Long.parseLong(resumeToken);

                  @Override
                  public dev.collector.SourceBatch<Long> next() throws IOException {
                    if (next == 3) {
                      throw boom;
                    }
                    next++;
                    return new dev.collector.SourceBatch<>(java.util.List.of(next), "" + next);
                  }

                  @Override
                  public void close() {}
                },
            store,
            CollectorOptions.defaults());
    var e =
        org.junit.jupiter.api.Assertions.assertThrows(
            SourceException.class, () -> c.process(2, b -> {}));
    assertEquals(3, e.sequence());
    assertSame(boom, e.getCause());
    // Which of batches 0-2 finished before the failure halted the run is timing; the
    // checkpoint covers exactly those acknowledged, and the message says where it is.
    assertTrue(store.current().sequence() <= 3);
    assertTrue(
        e.getMessage().contains("committed through sequence " + store.current().sequence()),
        e.getMessage());
  }
}
