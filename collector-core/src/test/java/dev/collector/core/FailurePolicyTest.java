package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Batch;
import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** G7: retry, dead letter, the per-batch timeout and stuck-batch reports. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class FailurePolicyTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Retry THREE_QUICK = Retry.of(3, Duration.ofMillis(1), Duration.ofMillis(5));

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();
  private final Map<Long, List<Integer>> attempts = new ConcurrentHashMap<>();

  private Collector<Long> collector(CollectorOptions.Builder options) {
    return Collecting.open(FakeSource.generated(10, 1), store, options.name("policy").build());
  }

  private void record(Batch<Long> batch) {
    attempts
        .computeIfAbsent(batch.sequence(), s -> new CopyOnWriteArrayList<>())
        .add(batch.attempt());
  }

  @Test
  void retry_failsTwiceThenSucceeds_runCompletesAndHandlerSawEachAttempt() throws Exception {
    Collector<Long> c =
        collector(CollectorOptions.builder().failurePolicy(FailurePolicy.retry(THREE_QUICK)));
    ProcessSummary summary =
        c.process(
            4,
            batch -> {
              record(batch);
              if (batch.sequence() == 3 && batch.attempt() < 3) {
                throw new IOException("transient");
              }
            });
    assertEquals(10, summary.batches());
    assertEquals(List.of(1, 2, 3), attempts.get(3L));
    assertEquals(List.of(1), attempts.get(4L));
  }

  @Test
  void retry_exhausted_failsRunWithLastFailure() {
    Collector<Long> c =
        collector(CollectorOptions.builder().failurePolicy(FailurePolicy.retry(THREE_QUICK)));
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    1,
                    batch -> {
                      record(batch);
                      if (batch.sequence() == 2) {
                        throw new IOException("attempt " + batch.attempt());
                      }
                    }));
    assertEquals(2, e.sequence());
    assertEquals("attempt 3", e.getCause().getMessage());
    assertEquals(List.of(1, 2, 3), attempts.get(2L));
    assertEquals(new Checkpoint(2, "2"), store.current());
  }

  @Test
  void deadLetter_afterRetries_settlesBatchAndRunGoesOn() throws Exception {
    var deadLetters = new CopyOnWriteArrayList<Batch<?>>();
    var causes = new CopyOnWriteArrayList<Throwable>();
    Collector<Long> c =
        collector(
            CollectorOptions.builder()
                .failurePolicy(
                    FailurePolicy.retry(THREE_QUICK)
                        .thenDeadLetter(
                            (batch, cause) -> {
                              deadLetters.add(batch);
                              causes.add(cause);
                            })));
    ProcessSummary summary =
        c.process(
            4,
            batch -> {
              if (batch.sequence() == 5) {
                throw new IllegalArgumentException("poison");
              }
            });
    assertEquals(10, summary.batches());
    assertEquals(1, summary.deadLettered());
    assertEquals(new Checkpoint(10, "10"), store.current());
    assertEquals(1, deadLetters.size());
    assertEquals(5, deadLetters.get(0).sequence());
    assertEquals(3, deadLetters.get(0).attempt());
    assertEquals("poison", causes.get(0).getMessage());
  }

  @Test
  void deadLetter_throws_failsRunWithItsExceptionAndTheBatchFailureSuppressed() {
    var poison = new IllegalArgumentException("poison");
    var queueDown = new IOException("dead-letter queue down");
    Collector<Long> c =
        collector(
            CollectorOptions.builder()
                .failurePolicy(
                    FailurePolicy.failFast()
                        .thenDeadLetter(
                            (batch, cause) -> {
                              throw queueDown;
                            })));
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    1,
                    batch -> {
                      if (batch.sequence() == 1) {
                        throw poison;
                      }
                    }));
    assertEquals(1, e.sequence());
    assertSame(queueDown, e.getCause());
    // the handler's failure is attached to the run's exception; the user's exceptions are
    // never modified (a dead-letter handler that rethrows its cause must not self-suppress)
    assertSame(poison, e.getSuppressed()[0]);
    assertEquals(0, queueDown.getSuppressed().length);
    assertEquals(new Checkpoint(1, "1"), store.current());
  }

  @Test
  void batchTimeout_hungAttemptIsInterruptedAndRetried() throws Exception {
    var interrupted = new CountDownLatch(1);
    Collector<Long> c =
        collector(
            CollectorOptions.builder()
                .batchTimeout(Duration.ofMillis(50))
                .failurePolicy(FailurePolicy.retry(THREE_QUICK)));
    ProcessSummary summary =
        c.process(
            4,
            batch -> {
              record(batch);
              if (batch.sequence() == 2 && batch.attempt() == 1) {
                try {
                  new CountDownLatch(1).await(); // hangs until the watchdog interrupts it
                } catch (InterruptedException e) {
                  interrupted.countDown();
                  throw e;
                }
              }
            });
    assertEquals(0, interrupted.getCount());
    assertEquals(10, summary.batches());
    assertEquals(List.of(1, 2), attempts.get(2L));
  }

  @Test
  void batchTimeout_failFast_failsRunWithTimeoutException() {
    Collector<Long> c = collector(CollectorOptions.builder().batchTimeout(Duration.ofMillis(30)));
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    2,
                    batch -> {
                      if (batch.sequence() == 0) {
                        new CountDownLatch(1).await();
                      }
                    }));
    assertEquals(0, e.sequence());
    var timeout = assertInstanceOf(TimeoutException.class, e.getCause());
    assertTrue(timeout.getMessage().contains("batchTimeout"), timeout.getMessage());
  }

  @Test
  void stuckBatch_isLoggedOnceNamingItsSequence_andCountedInProgress() throws Exception {
    var controller = new CompletionController<Long>();
    try (var log = new LogCapture()) {
      Collector<Long> c =
          collector(CollectorOptions.builder().stuckThreshold(Duration.ofMillis(40)));
      BackgroundRun run = BackgroundRun.start(c, 2, controller);
      try {
        controller.awaitStarted(0, WAIT);
        controller.release(1);
        controller.awaitFinished(1, WAIT);
        await().atMost(WAIT).until(() -> log.warningsContaining("batch 0 has been running") == 1);
        await().atMost(WAIT).until(() -> c.progress().stuck() == 1); // batch 1 is settled
        // several more watchdog passes (every 10 ms) go by: still one warning for batch 0
        await().atMost(WAIT).until(() -> c.progress().oldestRunning().toMillis() > 200);
        assertEquals(1, log.warningsContaining("batch 0 has been running"));
        assertTrue(c.progress().toString().contains("stuck=1"), c.progress().toString());
      } finally {
        controller.releaseAll();
      }
      run.await(WAIT);
    }
  }

  @Test
  void stop_handlerIgnoringInterrupts_isReportedStuck_andProcessWaitsForIt() throws Exception {
    var release = new CountDownLatch(1);
    var started = new CountDownLatch(1);
    try (var log = new LogCapture()) {
      Collector<Long> c =
          collector(
              CollectorOptions.builder()
                  .drainTimeout(Duration.ZERO)
                  .stuckThreshold(Duration.ofMillis(40)));
      BackgroundRun run =
          BackgroundRun.start(
              c,
              1,
              batch -> {
                started.countDown();
                while (release.getCount() > 0) {
                  try {
                    release.await();
                  } catch (InterruptedException ignoredOnPurpose) {
                    // a badly behaved handler: swallows the cancellation
                  }
                }
              });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      assertTrue(c.stop()); // drain timeout zero: interrupted at once, but it ignores that
      await().atMost(WAIT).until(() -> log.warningsContaining("batch 0 has been running") == 1);
      // G4 wins over the drain deadline: process() cannot return while its thread runs
      assertTrue(!run.isDone(), "process() returned while its handler still ran");
      release.countDown();
      ProcessSummary summary = run.await(WAIT);
      assertTrue(summary.stopped());
      assertEquals(1, summary.batches()); // it did finish its batch in the end
    }
  }

  @Test
  void pull_failWithRetry_redeliversSameBatchAsNextAttempt() throws Exception {
    try (Collector<Long> c =
        collector(
            CollectorOptions.builder().depth(4).failurePolicy(FailurePolicy.retry(THREE_QUICK)))) {
      Delivery<Long> first = c.next();
      assertNotNull(first);
      assertTrue(first.fail(new IOException("transient")));
      Delivery<Long> again = null;
      while (again == null || again.batch().sequence() != 0) {
        again = c.next(); // batch 1.. may come first while 0 backs off
        if (again != null && again.batch().sequence() != 0) {
          again.ack();
        }
      }
      assertEquals(2, again.batch().attempt());
      assertThrows(ConflictingOutcomeException.class, first::ack);
      assertTrue(again.ack());
      assertTrue(c.awaitCommitted().sequence() >= 1);
    }
  }

  @Test
  void pull_failExhaustedWithDeadLetter_settlesAndCommitsPast() throws Exception {
    var deadLettered = new CopyOnWriteArrayList<Long>();
    try (Collector<Long> c =
        collector(
            CollectorOptions.builder()
                .failurePolicy(
                    FailurePolicy.failFast()
                        .thenDeadLetter((batch, cause) -> deadLettered.add(batch.sequence()))))) {
      Delivery<Long> zero = c.next();
      Delivery<Long> one = c.next();
      assertNotNull(zero);
      assertNotNull(one);
      assertTrue(zero.fail(new IOException("poison")));
      assertTrue(one.ack());
      assertEquals(new Checkpoint(2, "2"), c.awaitCommitted());
      assertEquals(List.of(0L), deadLettered);
    }
  }
}
