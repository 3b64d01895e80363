package dev.collector.kafka;

import static dev.collector.kafka.KafkaAttackKit.committed;
import static dev.collector.kafka.KafkaAttackKit.config;
import static dev.collector.kafka.KafkaAttackKit.open;
import static dev.collector.kafka.KafkaAttackKit.topic;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchFailedException;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Attacks with hostile handlers and interrupts of the caller in every phase of a run. */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KafkaAttackHandlerTest {

  static final class AttackError extends Error {
    private static final long serialVersionUID = 1L;

    AttackError(String message) {
      super(message);
    }
  }

  private static KafkaCollectorOptions.Builder options(String topic) {
    return KafkaCollectorOptions.builder().name("attack").topics(topic);
  }

  /** G5 while the window is full: every handler blocked, the caller interrupted. */
  @Test
  void interruptWhileWindowFull_handlersInterrupted_prefixCommitted_noThreadLeft(Broker broker)
      throws Exception {
    String topic = topic(broker, "full-interrupt", 1, 50);
    var config = config(broker);
    var blocked = new CountDownLatch(8);
    var threads = new CopyOnWriteArrayList<Thread>();
    try (var c = open(config, options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      8,
                      Ordering.UNORDERED,
                      r -> {
                        threads.add(Thread.currentThread());
                        if (r.offset() >= 2) {
                          blocked.countDown();
                          new CountDownLatch(1).await();
                        }
                      }));
      assertTrue(blocked.await(30, TimeUnit.SECONDS));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().uncommitted() == 8);
      run.thread.interrupt();
      assertInstanceOf(InterruptedException.class, run.failure(30));
      assertTrue(run.interruptedAtEnd, "interrupt status kept");
      for (Thread t : threads) {
        assertFalse(t.isAlive(), "handler thread alive after process threw (G4): " + t);
      }
    }
    assertEquals(2, committed(broker, config, topic, 0));
  }

  /**
   * G5/G9: an interrupt that cancels a run commits the settled prefix, even if the commit interval
   * held those commits back.
   */
  @Test
  void interrupt_handledButLingeringCommits_areCommitted(Broker broker) throws Exception {
    String topic = topic(broker, "linger-interrupt", 1, 30);
    var config = config(broker);
    var handled = new AtomicInteger();
    var opts = options(topic).commitInterval(Duration.ofMinutes(10)).build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () -> c.processRecords(1000, 4, Ordering.UNORDERED, r -> handled.incrementAndGet()));
      await().atMost(Duration.ofSeconds(30)).until(() -> handled.get() == 30);
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().handled() == 30);
      run.thread.interrupt();
      assertInstanceOf(InterruptedException.class, run.failure(30));
      assertTrue(run.interruptedAtEnd);
    }
    assertEquals(30, committed(broker, config, topic, 0));
  }

  /** G9: an interrupt during the final commit (right after stop()) does not drop it. */
  @Test
  void interruptRightAfterStop_finalCommitNotDropped(Broker broker) throws Exception {
    String topic = topic(broker, "final-commit-interrupt", 1, 30);
    var config = config(broker);
    var handled = new AtomicInteger();
    var opts = options(topic).commitInterval(Duration.ofMinutes(10)).build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () -> c.processRecords(1000, 4, Ordering.UNORDERED, r -> handled.incrementAndGet()));
      await().atMost(Duration.ofSeconds(30)).until(() -> handled.get() == 30);
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().handled() == 30);
      assertTrue(c.stop());
      run.thread.interrupt();
      Throwable failure = run.failure(30);
      if (failure != null) {
        assertInstanceOf(InterruptedException.class, failure);
        assertTrue(run.interruptedAtEnd);
      }
    }
    assertEquals(30, committed(broker, config, topic, 0));
  }

  /** BatchHandler: throwing hands the batch to the policy; fail-fast ends the run. */
  @Test
  void handlerThrowsError_failFast_batchFailedWithTheError(Broker broker) throws Exception {
    String topic = topic(broker, "error", 1, 20);
    var config = config(broker);
    try (var c = open(config, options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 5) {
                          throw new AttackError("boom at 5");
                        }
                      }));
      var e = assertInstanceOf(BatchFailedException.class, run.failure(30));
      assertEquals(5, e.sequence());
      assertInstanceOf(AttackError.class, e.getCause());
    }
    assertEquals(5, committed(broker, config, topic, 0));
  }

  /** An Error from a handler is a handler failure: with a dead-letter handler the run goes on. */
  @Test
  void handlerThrowsError_deadLettered_runGoesOn(Broker broker) throws Exception {
    String topic = topic(broker, "error-dlt", 1, 20);
    var config = config(broker);
    var dead = new CopyOnWriteArrayList<Throwable>();
    var handled = new AtomicInteger();
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast().thenDeadLetter((batch, cause) -> dead.add(cause)))
            .build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 5) {
                          throw new AttackError("boom at 5");
                        }
                        handled.incrementAndGet();
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || handled.get() == 19);
      if (!run.done()) {
        c.stop();
      }
      ProcessSummary summary = run.value(30);
      assertEquals(1, summary.deadLettered(), summary.toString());
    }
    assertEquals(1, dead.size());
    assertInstanceOf(AttackError.class, dead.get(0));
    assertEquals(20, committed(broker, config, topic, 0));
  }

  /** Contract: an interrupt a handler leaves on its own thread is not a cancellation. */
  @Test
  void handlerInterruptsItself_recordMode_notACancellation(Broker broker) throws Exception {
    String topic = topic(broker, "self-interrupt-r", 2, 40);
    var config = config(broker);
    var handled = new AtomicInteger();
    try (var c = open(config, options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      4,
                      Ordering.UNORDERED,
                      r -> {
                        handled.incrementAndGet();
                        Thread.currentThread().interrupt();
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || handled.get() >= 40);
      assertFalse(run.done(), () -> "the run ended on its own: " + KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      assertTrue(run.value(30).stopped());
      assertFalse(run.interruptedAtEnd, "a handler's interrupt leaked to the caller");
    }
    long total = committed(broker, config, topic, 0) + committed(broker, config, topic, 1);
    assertEquals(40, total);
  }

  @Test
  void handlerInterruptsItself_batchMode_notACancellation(Broker broker) throws Exception {
    String topic = topic(broker, "self-interrupt-b", 2, 40);
    var config = config(broker);
    var handled = new AtomicInteger();
    try (var c = open(config, options(topic).maxBatch(3, 1 << 20).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.process(
                      4,
                      b -> {
                        handled.addAndGet(b.size());
                        Thread.currentThread().interrupt();
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || handled.get() >= 40);
      assertFalse(run.done(), () -> "the run ended on its own: " + KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      assertTrue(run.value(30).stopped());
    }
    long total = committed(broker, config, topic, 0) + committed(broker, config, topic, 1);
    assertEquals(40, total);
  }

  /**
   * A handler that throws InterruptedException although nobody cancelled the run: not an echo of
   * the run's cancellation, so it is a failure (fail-fast), not a silent redelivery or hang.
   */
  @Test
  void handlerThrowsSpontaneousInterruptedException_isAFailure(Broker broker) throws Exception {
    String topic = topic(broker, "spontaneous", 1, 20);
    var config = config(broker);
    try (var c = open(config, options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 5) {
                          throw new InterruptedException("spontaneous");
                        }
                      }));
      try {
        run.result.get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException ended) {
        // inspected below
      } catch (TimeoutException hung) {
        throw new AssertionError("the run neither failed nor went on after 30 s: " + c.progress());
      }
      var e = assertInstanceOf(BatchFailedException.class, run.failure(0));
      assertEquals(5, e.sequence());
      assertFalse(run.interruptedAtEnd);
    }
    assertEquals(5, committed(broker, config, topic, 0));
  }

  /** G4/G5: stop() interrupts after drainTimeout; a handler ignoring it keeps process waiting. */
  @Test
  void stop_handlerIgnoresInterruptPastDrain_processWaitsForIt(Broker broker) throws Exception {
    String topic = topic(broker, "ignore-drain", 1, 20);
    var held = new CountDownLatch(1);
    var interrupted = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    var handlerThread = new AtomicReference<Thread>();
    var opts = options(topic).drainTimeout(Duration.ofMillis(200)).build();
    try (var c = open(config(broker), opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 3) {
                          handlerThread.set(Thread.currentThread());
                          held.countDown();
                          KafkaAttackKit.awaitIgnoringInterrupts(release, interrupted);
                        }
                      }));
      assertTrue(held.await(30, TimeUnit.SECONDS));
      assertTrue(c.stop());
      assertTrue(interrupted.await(30, TimeUnit.SECONDS), "the drain bound passed: interrupt");
      assertThrows(
          TimeoutException.class,
          () -> run.result.get(2, TimeUnit.SECONDS),
          "process returned while its handler still ran (G4)");
      release.countDown();
      assertTrue(run.value(30).stopped());
      assertFalse(handlerThread.get().isAlive());
    }
  }

  /**
   * Ordering.KEY: same-key records one at a time, in offset order -- also when one of them fails
   * and is retried: a later record of its key must not run before the retry succeeded.
   */
  @Test
  void keyOrdering_retriedRecord_laterSameKeyWaits(Broker broker) throws Exception {
    orderingUnderRetry(broker, Ordering.KEY);
  }

  @Test
  void partitionOrdering_retriedRecord_laterRecordsWait(Broker broker) throws Exception {
    orderingUnderRetry(broker, Ordering.PARTITION);
  }

  private void orderingUnderRetry(Broker broker, Ordering ordering) throws Exception {
    String topic = Kit.unique("retry-order");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 40, i -> "key" + (i % 2)); // key0 even offsets, key1 odd
    var config = config(broker);
    Map<String, List<Long>> starts = new ConcurrentHashMap<>();
    var attemptsOf4 = new AtomicInteger();
    var done = new AtomicInteger();
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.retry(Retry.of(3, Duration.ofMillis(300), Duration.ofMillis(300))))
            .build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      40,
                      8,
                      ordering,
                      r -> {
                        String lane = ordering == Ordering.KEY ? r.key() : "partition";
                        synchronized (starts) {
                          starts.computeIfAbsent(lane, k -> new ArrayList<>()).add(r.offset());
                        }
                        if (r.offset() == 4 && attemptsOf4.incrementAndGet() == 1) {
                          throw new IllegalStateException("first attempt of 4 fails");
                        }
                        done.incrementAndGet();
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || done.get() == 40);
      assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      run.value(30);
    }
    String lane = ordering == Ordering.KEY ? "key0" : "partition";
    List<Long> order = starts.get(lane);
    int retry = order.lastIndexOf(4L);
    int first = order.indexOf(4L);
    assertTrue(retry > first, "offset 4 was retried: " + order);
    assertEquals(
        retry,
        first + 1,
        "records of the lane started between offset 4's failed attempt and its retry: " + order);
    assertEquals(40, committed(broker, config, topic, 0));
  }

  /** G7: a dead-letter handler that throws (an Error here) fails the run like fail-fast. */
  @Test
  void deadLetterHandlerThrowsError_failsRun_handlerFailureSuppressed(Broker broker)
      throws Exception {
    String topic = topic(broker, "dlt-error", 1, 20);
    var config = config(broker);
    var handlerFailure = new IllegalStateException("handler failed");
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter(
                        (batch, cause) -> {
                          throw new AttackError("dead-letter handler broke");
                        }))
            .build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 5) {
                          throw handlerFailure;
                        }
                      }));
      var e = assertInstanceOf(BatchFailedException.class, run.failure(30));
      assertEquals(5, e.sequence());
      assertInstanceOf(AttackError.class, e.getCause());
      assertTrue(
          java.util.Arrays.asList(e.getSuppressed()).contains(handlerFailure)
              || java.util.Arrays.asList(e.getCause().getSuppressed()).contains(handlerFailure),
          "handler failure not attached as suppressed");
    }
    assertEquals(5, committed(broker, config, topic, 0));
  }

  /** G6: close() from a collector's own (dead-letter) handler throws instead of deadlocking. */
  @Test
  void closeFromDeadLetterHandler_throwsReentrantCall(Broker broker) throws Exception {
    String topic = topic(broker, "dlt-close", 1, 20);
    var seen = new AtomicReference<Throwable>();
    var holder = new AtomicReference<AutoCloseable>();
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter(
                        (batch, cause) -> {
                          try {
                            holder.get().close();
                            seen.set(new AssertionError("close() returned"));
                          } catch (Throwable t) {
                            seen.set(t);
                          }
                        }))
            .build();
    try (var c = open(config(broker), opts)) {
      holder.set(c);
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 5) {
                          throw new IllegalStateException("to the dead-letter handler");
                        }
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> seen.get() != null || run.done());
      assertInstanceOf(dev.collector.ReentrantCallException.class, seen.get());
      assertTrue(c.stop());
      run.value(30);
    }
  }

  /** G3 at the smallest windows: an eighth of a window below 8 is less than one unit. */
  @Test
  void tinyWindows_depth1to7_neverOverfetch_allCommitted(Broker broker) throws Exception {
    for (int depth : new int[] {1, 3, 7}) {
      String topic = topic(broker, "tiny-window-" + depth, 2, 60);
      var config = config(broker);
      var handled = new AtomicInteger();
      List<String> over = new CopyOnWriteArrayList<>();
      try (var c = open(config, options(topic).build())) {
        var run =
            new KafkaAttackKit.Bg<>(
                "run",
                () ->
                    c.processRecords(
                        depth,
                        depth,
                        Ordering.UNORDERED,
                        r -> {
                          var p = c.progress();
                          if (p.uncommitted() > depth) {
                            over.add(p.toString());
                          }
                          handled.incrementAndGet();
                        }));
        await().atMost(Duration.ofSeconds(40)).until(() -> run.done() || handled.get() >= 60);
        assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
        assertTrue(c.stop());
        assertTrue(c.stop() || run.done(), "repeated stop() while the run is active");
        run.value(30);
      }
      assertEquals(List.of(), over, "depth " + depth);
      assertEquals(
          60,
          committed(broker, config, topic, 0) + committed(broker, config, topic, 1),
          "depth " + depth);
    }
  }

  /** Contract: an interrupt a handler leaves is cleared before its next attempt; attempts count. */
  @Test
  void retry_interruptLeftByFailedAttempt_clearedBeforeNextAttempt(Broker broker) throws Exception {
    retryAfterFailedAttempt(broker, true);
  }

  /** The control of the test above: the same retry without the leftover interrupt. */
  @Test
  void retry_failedAttempt_retriedWithAttemptTwo(Broker broker) throws Exception {
    retryAfterFailedAttempt(broker, false);
  }

  private void retryAfterFailedAttempt(Broker broker, boolean leaveInterrupt) throws Exception {
    String topic = topic(broker, "retry-interrupt", 1, 10);
    var config = config(broker);
    var attempts = new CopyOnWriteArrayList<String>();
    var opts =
        options(topic)
            .maxBatch(100, 1 << 20)
            .failurePolicy(
                FailurePolicy.retry(Retry.of(3, Duration.ofMillis(10), Duration.ofMillis(10))))
            .build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.process(
                      4,
                      b -> {
                        attempts.add(b.attempt() + ":" + Thread.currentThread().isInterrupted());
                        if (b.attempt() == 1) {
                          if (leaveInterrupt) {
                            Thread.currentThread().interrupt();
                          }
                          throw new IllegalStateException(
                              "first attempt fails, leaves an interrupt");
                        }
                      }));
      try {
        await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || attempts.size() >= 2);
      } catch (org.awaitility.core.ConditionTimeoutException stalled) {
        throw new AssertionError(
            "no second attempt within 30 s; attempts " + attempts + ", " + c.progress());
      }
      assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      run.value(30);
    }
    assertEquals(List.of("1:false", "2:false"), attempts);
    assertEquals(10, committed(broker, config, topic, 0));
  }

  /** G5: stop() bounds the drain; a record waiting in a long retry backoff must not outlast it. */
  @Test
  void stopDuringLongRetryBackoff_returnsWithinDrainBound(Broker broker) throws Exception {
    retryBackoffThenEnd(broker, false);
  }

  /** G5: close() is a stop without drain; a long retry backoff must not hold it. */
  @Test
  void closeDuringLongRetryBackoff_returnsPromptly(Broker broker) throws Exception {
    retryBackoffThenEnd(broker, true);
  }

  private void retryBackoffThenEnd(Broker broker, boolean close) throws Exception {
    String topic = topic(broker, "retry-backoff", 1, 10);
    var config = config(broker);
    var failed = new CountDownLatch(1);
    var opts =
        options(topic)
            .drainTimeout(Duration.ofSeconds(1))
            .failurePolicy(
                FailurePolicy.retry(Retry.of(3, Duration.ofSeconds(120), Duration.ofSeconds(120))))
            .build();
    var c = open(config, opts);
    try {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 2) {
                          failed.countDown();
                          throw new IllegalStateException("retry me in two minutes");
                        }
                      }));
      assertTrue(failed.await(30, TimeUnit.SECONDS));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> c.progress().committed() >= 2 || run.done());
      long start = System.nanoTime();
      if (close) {
        var closing =
            new KafkaAttackKit.Bg<>(
                "close",
                () -> {
                  c.close();
                  return null;
                });
        closing.value(30);
      } else {
        assertTrue(c.stop());
      }
      Throwable failure = run.failure(30);
      long ms = (System.nanoTime() - start) / 1_000_000;
      System.out.println(
          (close ? "close" : "stop")
              + " during retry backoff: "
              + ms
              + " ms, "
              + (failure == null ? run.result.getNow(null) : failure));
      assertTrue(ms < 15_000, "took " + ms + " ms");
    } finally {
      c.close();
    }
    assertEquals(2, committed(broker, config, topic, 0));
  }
}
