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

import dev.collector.CollectorClosedException;
import dev.collector.ConcurrentUseException;
import dev.collector.ProcessSummary;
import dev.collector.ReentrantCallException;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Attacks on the run's life: races of process/stop/close, calls from handlers, reuse. */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KafkaAttackLifecycleTest {

  private static KafkaCollectorOptions.Builder options(String topic) {
    return KafkaCollectorOptions.builder().name("attack").topics(topic);
  }

  @Test
  void twoThreadsCallProcessAtOnce_exactlyOneRuns_otherGetsConcurrentUse(Broker broker)
      throws Exception {
    String topic = topic(broker, "two-process", 1, 10);
    try (var c = open(config(broker), options(topic).build())) {
      var barrier = new CyclicBarrier(2);
      var a =
          new KafkaAttackKit.Bg<>(
              "a",
              () -> {
                barrier.await();
                return c.process(4, b -> {});
              });
      var b =
          new KafkaAttackKit.Bg<>(
              "b",
              () -> {
                barrier.await();
                return c.process(4, x -> {});
              });
      await().atMost(Duration.ofSeconds(20)).until(() -> a.done() || b.done());
      var loser = a.done() ? a : b;
      var winner = a.done() ? b : a;
      assertInstanceOf(ConcurrentUseException.class, loser.failure(1));
      assertTrue(c.stop());
      assertTrue(winner.value(30).stopped());
    }
  }

  /** G5: close() during process stops it without drain and waits for it to return; G4. */
  @Test
  void closeDuringProcess_interruptsHandlers_waitsForRun_commitsPrefix(Broker broker)
      throws Exception {
    String topic = topic(broker, "close-during", 1, 20);
    var config = config(broker);
    var held = new CountDownLatch(1);
    var handlerThread = new AtomicReference<Thread>();
    var c = open(config, options(topic).build());
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
                        new CountDownLatch(1).await();
                      }
                    }));
    assertTrue(held.await(30, TimeUnit.SECONDS));
    c.close();
    assertTrue(run.done(), "close() returned before process() did");
    assertFalse(handlerThread.get().isAlive(), "a handler thread outlived close() (G4)");
    ProcessSummary summary = run.value(0);
    assertTrue(summary.stopped(), summary.toString());
    assertEquals(3, committed(broker, config, topic, 0));
  }

  /** close() is "stopped without drain": it must not wait out a stop()'s 30 s drain. */
  @Test
  void closeWhileStopDrains_skipsTheDrain(Broker broker) throws Exception {
    String topic = topic(broker, "stop-then-close", 1, 20);
    var held = new CountDownLatch(1);
    var c = open(config(broker), options(topic).drainTimeout(Duration.ofSeconds(60)).build());
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
                        held.countDown();
                        new CountDownLatch(1).await();
                      }
                    }));
    assertTrue(held.await(30, TimeUnit.SECONDS));
    assertTrue(c.stop());
    long start = System.nanoTime();
    c.close();
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 15_000, "close() took " + ms + " ms: it waited for stop()'s drain");
    assertTrue(run.value(0).stopped());
  }

  /**
   * G4: after close() returns, no thread of the collector runs. A second close() racing the first
   * returns at once ("closing again does nothing") while the first still waits for a handler that
   * is slow to answer its interrupt.
   */
  @Test
  void secondConcurrentClose_returnsOnlyAfterTheRunEnded(Broker broker) throws Exception {
    String topic = topic(broker, "double-close", 1, 20);
    var held = new CountDownLatch(1);
    var interrupted = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    var handlerThread = new AtomicReference<Thread>();
    var c = open(config(broker), options(topic).build());
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
    var first =
        new KafkaAttackKit.Bg<>(
            "close-1",
            () -> {
              c.close();
              return null;
            });
    assertTrue(interrupted.await(30, TimeUnit.SECONDS));
    var second =
        new KafkaAttackKit.Bg<>(
            "close-2",
            () -> {
              c.close();
              return handlerThread.get().isAlive();
            });
    Boolean handlerAliveWhenSecondReturned = null;
    try {
      handlerAliveWhenSecondReturned = second.result.get(3, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException expected) {
      // the second close waits, as G4 asks
    }
    release.countDown();
    first.value(30);
    second.value(30);
    run.failure(30);
    assertTrue(
        handlerAliveWhenSecondReturned == null || !handlerAliveWhenSecondReturned,
        "the second close() returned while a handler of the collector still ran (G4)");
  }

  @Test
  void closeFromInsideHandler_throwsReentrantCall_runGoesOn(Broker broker) throws Exception {
    String topic = topic(broker, "close-in-handler", 1, 10);
    var seen = new AtomicReference<Throwable>();
    var done = new CountDownLatch(1);
    try (var c = open(config(broker), options(topic).build())) {
      AutoCloseable self = c; // closed from its own handler below
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.process(
                      4,
                      b -> {
                        if (seen.get() == null) {
                          try {
                            self.close();
                            seen.set(new AssertionError("close() from a handler returned"));
                          } catch (Throwable t) {
                            seen.set(t);
                          }
                          done.countDown();
                        }
                      }));
      assertTrue(done.await(30, TimeUnit.SECONDS));
      assertInstanceOf(ReentrantCallException.class, seen.get());
      assertTrue(c.stop(), "the run should still be active");
      assertTrue(run.value(30).stopped());
    }
  }

  @Test
  void nextOrProcessFromInsideHandler_throwsReentrantCall(Broker broker) throws Exception {
    String topic = topic(broker, "next-in-handler", 1, 10);
    var seen = new CopyOnWriteArrayList<Throwable>();
    var done = new CountDownLatch(1);
    try (var c = open(config(broker), options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.process(
                      4,
                      b -> {
                        if (done.getCount() > 0) {
                          try {
                            c.next(Duration.ofMillis(10));
                            seen.add(new AssertionError("next() from a handler returned"));
                          } catch (Throwable t) {
                            seen.add(t);
                          }
                          try {
                            c.processRecords(4, 1, Ordering.KEY, r -> {});
                            seen.add(
                                new AssertionError("processRecords() from a handler returned"));
                          } catch (Throwable t) {
                            seen.add(t);
                          }
                          done.countDown();
                        }
                      }));
      assertTrue(done.await(30, TimeUnit.SECONDS));
      assertTrue(c.stop());
      run.value(30);
      assertEquals(2, seen.size(), seen.toString());
      seen.forEach(t -> assertInstanceOf(ReentrantCallException.class, t));
    }
  }

  /** stop() may be called from a handler; the handler's record returned, so it is committed. */
  @Test
  void stopFromInsideHandler_runStops_handledPrefixCommitted(Broker broker) throws Exception {
    String topic = topic(broker, "stop-in-handler", 1, 50);
    var config = config(broker);
    var handled = new CopyOnWriteArrayList<Long>();
    var stopResult = new AtomicReference<Boolean>();
    try (var c = open(config, options(topic).build())) {
      ProcessSummary summary =
          c.processRecords(
              16,
              1,
              Ordering.PARTITION,
              r -> {
                if (r.offset() == 5) {
                  stopResult.set(c.stop());
                }
                handled.add(r.offset());
              });
      assertTrue(summary.stopped(), summary.toString());
    }
    assertEquals(Boolean.TRUE, stopResult.get());
    long max = handled.stream().mapToLong(Long::longValue).max().orElseThrow();
    assertEquals(max + 1, handled.size(), "handled offsets not a prefix: " + handled);
    assertTrue(max >= 5);
    assertEquals(max + 1, committed(broker, config, topic, 0), "handled " + handled);
  }

  @Test
  void closedCollector_everyCallThrowsClosedOrIsHarmless(Broker broker) throws Exception {
    String topic = topic(broker, "closed", 1, 5);
    var c = open(config(broker), options(topic).build());
    c.close();
    assertThrows(CollectorClosedException.class, () -> c.process(4, b -> {}));
    assertThrows(
        CollectorClosedException.class, () -> c.processRecords(4, 1, Ordering.KEY, r -> {}));
    assertThrows(CollectorClosedException.class, () -> c.next(Duration.ofMillis(10)));
    assertFalse(c.stop());
    assertEquals(0, c.progress().capacity());
    var awaited = new KafkaAttackKit.Bg<>("await", c::awaitCommitted);
    awaited.failure(10); // returns (or throws) at once, never hangs
    c.close();
  }

  /** "A collector can run again after a run returned" -- also after a failed run. */
  @Test
  void processAgainAfterFailedRun_resumesAtCommittedOffset(Broker broker) throws Exception {
    String topic = topic(broker, "again", 1, 50);
    var config = config(broker);
    var second = new CopyOnWriteArrayList<Long>();
    try (var c = open(config, options(topic).build())) {
      assertThrows(
          dev.collector.BatchFailedException.class,
          () ->
              c.processRecords(
                  8,
                  1,
                  Ordering.PARTITION,
                  r -> {
                    if (r.offset() == 20) {
                      throw new IllegalStateException("fail 20");
                    }
                  }));
      assertEquals(20, committed(broker, config, topic, 0));
      var run =
          new KafkaAttackKit.Bg<>(
              "again",
              () -> c.processRecords(8, 1, Ordering.PARTITION, r -> second.add(r.offset())));
      await().atMost(Duration.ofSeconds(30)).until(() -> second.contains(49L));
      assertTrue(c.stop());
      assertTrue(run.value(30).stopped());
    }
    assertEquals(20L, second.get(0), "the second run must resume at the committed offset");
    assertEquals(50, committed(broker, config, topic, 0));
  }

  /** G5 for a run that cannot reach its brokers: the interrupt must not wait for startup. */
  @Test
  void interruptDuringStartup_brokerUnreachable_throwsInterruptedPromptly() throws Exception {
    var config =
        Kit.consumerConfig("127.0.0.1:" + KafkaAttackKit.freePort(), Kit.unique("g"), "classic");
    var options =
        KafkaCollectorOptions.builder()
            .name("unreachable")
            .topics("t")
            .startupTimeout(Duration.ofSeconds(60))
            .commit(Duration.ofSeconds(1), dev.collector.Retry.NONE)
            .build();
    try (var c = open(config, options)) {
      var run = new KafkaAttackKit.Bg<>("run", () -> c.process(4, b -> {}));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().capacity() > 0);
      run.thread.interrupt();
      Throwable failure = run.failure(15);
      assertInstanceOf(InterruptedException.class, failure);
      assertTrue(run.interruptedAtEnd, "interrupt status kept");
    }
  }

  @Test
  void stopDuringStartup_brokerUnreachable_returnsStoppedPromptly() throws Exception {
    var config =
        Kit.consumerConfig("127.0.0.1:" + KafkaAttackKit.freePort(), Kit.unique("g"), "classic");
    var options =
        KafkaCollectorOptions.builder()
            .name("unreachable")
            .topics("t")
            .startupTimeout(Duration.ofSeconds(60))
            .commit(Duration.ofSeconds(1), dev.collector.Retry.NONE)
            .build();
    try (var c = open(config, options)) {
      var run = new KafkaAttackKit.Bg<>("run", () -> c.process(4, b -> {}));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().capacity() > 0);
      assertTrue(c.stop());
      ProcessSummary summary = run.value(15);
      assertTrue(summary.stopped(), summary.toString());
    }
  }

  @Test
  void closeDuringStartup_brokerUnreachable_returnsPromptly() throws Exception {
    var config =
        Kit.consumerConfig("127.0.0.1:" + KafkaAttackKit.freePort(), Kit.unique("g"), "classic");
    var options =
        KafkaCollectorOptions.builder()
            .name("unreachable")
            .topics("t")
            .startupTimeout(Duration.ofSeconds(60))
            .commit(Duration.ofSeconds(1), dev.collector.Retry.NONE)
            .build();
    var c = open(config, options);
    var run = new KafkaAttackKit.Bg<>("run", () -> c.process(4, b -> {}));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().capacity() > 0);
    var closing =
        new KafkaAttackKit.Bg<>(
            "close",
            () -> {
              c.close();
              return null;
            });
    closing.value(20);
    assertTrue(run.done(), "close() returned before process() did");
    Throwable failure = run.failure(0);
    assertFalse(failure instanceof InterruptedException, String.valueOf(failure));
    System.out.println(
        "close during startup: process ended with "
            + (failure == null ? run.result.getNow(null) : failure));
  }

  /** A thread whose interrupt status is already set when it calls process: G5 cancels. */
  @Test
  void processCalledWithInterruptStatusSet_throwsInterrupted_commitsNothingWrong(Broker broker)
      throws Exception {
    String topic = topic(broker, "pre-interrupted", 1, 10);
    try (var c = open(config(broker), options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () -> {
                Thread.currentThread().interrupt();
                return c.process(4, b -> {});
              });
      Throwable failure = run.failure(30);
      assertInstanceOf(InterruptedException.class, failure);
      assertTrue(run.interruptedAtEnd);
      assertFalse(c.stop());
    }
  }
}
