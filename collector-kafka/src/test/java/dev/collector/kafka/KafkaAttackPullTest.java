package dev.collector.kafka;

import static dev.collector.kafka.KafkaAttackKit.committed;
import static dev.collector.kafka.KafkaAttackKit.config;
import static dev.collector.kafka.KafkaAttackKit.open;
import static dev.collector.kafka.KafkaAttackKit.topic;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchFailedException;
import dev.collector.ConcurrentUseException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.StaleDeliveryException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Attacks on the pull API: settling against close/stop, failed sessions, blocked next(). */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KafkaAttackPullTest {

  private static KafkaCollectorOptions.Builder options(String topic) {
    return KafkaCollectorOptions.builder()
        .name("attack")
        .topics(topic)
        .maxBatch(5, 1 << 20)
        .pullDepth(16);
  }

  private static Delivery<ConsumerRecord<String, String>> take(KafkaCollector<String, String> c)
      throws InterruptedException {
    var d = c.next(Duration.ofSeconds(30));
    assertNotNull(d, "no delivery within 30 s");
    return d;
  }

  private static long end(Delivery<ConsumerRecord<String, String>> d) {
    var records = d.batch().records();
    return records.get(records.size() - 1).offset() + 1;
  }

  @Test
  void ackTwice_false_thenFail_conflicting_commitsOnce(Broker broker) throws Exception {
    String topic = topic(broker, "ack-twice", 1, 20);
    var config = config(broker);
    try (var c = open(config, options(topic).build())) {
      var d = take(c);
      assertTrue(d.ack());
      assertFalse(d.ack());
      assertThrows(ConflictingOutcomeException.class, () -> d.fail(new RuntimeException("x")));
      d.close(); // settled: nothing happens
      c.awaitCommitted();
      assertEquals(5, committed(broker, config, topic, 0));
    }
  }

  /**
   * awaitCommitted javadoc: returns "the offsets the session committed
   * (topic-partition=offset,...)" once everything acknowledged so far is committed.
   */
  @Test
  void awaitCommitted_returnsTheCommittedOffsets_everyRound(Broker broker) throws Exception {
    List<String> bad = new ArrayList<>();
    for (int round = 0; round < 8; round++) {
      String topic = topic(broker, "await-token", 1, 20);
      var config = config(broker);
      try (var c = open(config, options(topic).build())) {
        var d = take(c);
        assertTrue(d.ack());
        var checkpoint = c.awaitCommitted();
        long durable = committed(broker, config, topic, 0);
        if (durable != end(d) || !checkpoint.resumeToken().contains(topic + "-0=" + end(d))) {
          bad.add(
              "round "
                  + round
                  + ": group offset "
                  + durable
                  + ", awaitCommitted returned "
                  + checkpoint);
        }
      }
    }
    assertEquals(List.of(), bad);
  }

  @Test
  void failThenAck_conflicting_failTwice_false(Broker broker) throws Exception {
    String topic = topic(broker, "fail-then-ack", 1, 20);
    var dead = new CopyOnWriteArrayList<Long>();
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter((batch, cause) -> dead.add(batch.sequence())))
            .build();
    try (var c = open(config(broker), opts)) {
      var d = take(c);
      assertTrue(d.fail(new RuntimeException("x")));
      assertFalse(d.fail(new RuntimeException("again")));
      assertThrows(ConflictingOutcomeException.class, d::ack);
      assertEquals(List.of(d.batch().sequence()), dead, "dead-lettered exactly once");
      var next = take(c); // the session goes on after a dead letter
      assertTrue(next.ack());
    }
  }

  /**
   * kafka.md: fail() without a dead-letter handler ends the session: "the next next() throws
   * BatchFailedException once, and the call after that starts a new session at the committed
   * offsets". Read-ahead deliveries must not be handed out in between.
   */
  @Test
  void failWithoutDeadLetter_theVeryNextNextThrows_thenNewSessionRedelivers(Broker broker)
      throws Exception {
    String topic = topic(broker, "fail-next", 1, 100);
    var config = config(broker);
    try (var c = open(config, options(topic).build())) {
      var d1 = take(c);
      var d2 = take(c);
      // let read-ahead fill so that a delivery is ready when the failure is reported
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().uncommitted() >= 4);
      assertTrue(d1.fail(new IllegalStateException("bad batch")));
      var e =
          assertThrows(
              BatchFailedException.class,
              () -> c.next(Duration.ofSeconds(10)),
              "the next next() after fail() must report the failure");
      assertEquals(d1.batch().sequence(), e.sequence());
      assertThrows(StaleDeliveryException.class, d2::ack);
      var again = take(c);
      assertEquals(d1.batch().sequence(), again.batch().sequence(), "new session at committed");
      again.ack();
    }
    assertTrue(committed(broker, config, topic, 0) <= 5);
  }

  /**
   * G9/Delivery: an ack before close() is covered by close's final commit; a settle after close
   * throws; repeating an outcome the delivery already has returns false; close() of a delivery
   * never throws.
   */
  @Test
  void ackBeforeClose_committed_settleAfterClose_throwsOrFalse(Broker broker) throws Exception {
    String topic = topic(broker, "ack-close", 1, 50);
    var config = config(broker);
    var c = open(config, options(topic).commitInterval(Duration.ofMinutes(10)).build());
    var d1 = take(c);
    var d2 = take(c);
    var d3 = take(c);
    assertTrue(d1.ack());
    c.close();
    assertEquals(end(d1), committed(broker, config, topic, 0));
    assertFalse(d1.ack(), "repeating the delivery's outcome returns false");
    var onAck = assertThrows(MisuseException.class, d2::ack);
    var onFail = assertThrows(MisuseException.class, () -> d3.fail(new RuntimeException("x")));
    System.out.println(
        "ack after close -> "
            + onAck.getClass().getSimpleName()
            + ", fail after close -> "
            + onFail.getClass().getSimpleName());
    d2.close();
    d3.close();
    assertEquals(end(d1), committed(broker, config, topic, 0));
  }

  /** Delivery: against close(), a settle either counts (covered by the final commit) or throws. */
  @Test
  void acksRacingClose_eachCountsOrThrows(Broker broker) throws Exception {
    for (int round = 0; round < 3; round++) {
      String topic = topic(broker, "ack-race", 1, 100);
      var config = config(broker);
      var c = open(config, options(topic).commitInterval(Duration.ofMinutes(10)).build());
      List<Delivery<ConsumerRecord<String, String>>> held = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        held.add(take(c));
      }
      var go = new CountDownLatch(1);
      List<Object> outcomes = new CopyOnWriteArrayList<>();
      var acker =
          new KafkaAttackKit.Bg<>(
              "acker",
              () -> {
                go.await();
                for (var d : held) {
                  try {
                    outcomes.add(d.ack());
                  } catch (MisuseException e) {
                    outcomes.add(e);
                  }
                }
                return null;
              });
      var closer =
          new KafkaAttackKit.Bg<>(
              "closer",
              () -> {
                go.await();
                c.close();
                return null;
              });
      go.countDown();
      acker.value(30);
      closer.value(30);
      int prefix = 0;
      while (prefix < outcomes.size() && Boolean.TRUE.equals(outcomes.get(prefix))) {
        prefix++;
      }
      long expected = prefix == 0 ? -1 : end(held.get(prefix - 1));
      long actual = committed(broker, config, topic, 0);
      assertEquals(
          expected,
          actual,
          "round "
              + round
              + ": ack outcomes "
              + outcomes
              + " (true = counted, so covered by close's final commit)");
    }
  }

  /** stop() ends the session: acked batches are committed, unsettled deliveries go stale. */
  @Test
  void stopDuringPull_endsSession_unsettledStale_nextStartsNewSession(Broker broker)
      throws Exception {
    String topic = topic(broker, "pull-stop", 1, 50);
    var config = config(broker);
    try (var c = open(config, options(topic).commitInterval(Duration.ofMinutes(10)).build())) {
      var d1 = take(c);
      var d2 = take(c);
      assertTrue(d1.ack());
      assertTrue(c.stop());
      await().atMost(Duration.ofSeconds(30)).until(() -> c.progress().capacity() == 0);
      assertEquals(end(d1), committed(broker, config, topic, 0));
      assertThrows(StaleDeliveryException.class, d2::ack);
      var again = take(c);
      assertEquals(d2.batch().sequence(), again.batch().sequence());
      assertTrue(again.ack());
    }
  }

  /** A caller blocked in next() while another thread closes: it must not sleep its timeout out. */
  @Test
  void nextBlockedWhileClose_returnsPromptly(Broker broker) throws Exception {
    String topic = topic(broker, "next-close", 1, 3);
    var c = open(config(broker), options(topic).build());
    var d = take(c);
    d.ack();
    var waiting = new KafkaAttackKit.Bg<>("next", () -> c.next(Duration.ofSeconds(60)));
    try {
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> waiting.done() || waiting.thread.getState() == Thread.State.TIMED_WAITING);
    } catch (org.awaitility.core.ConditionTimeoutException notParked) {
      // next() may spin instead of parking; close() races it then, which is fine too
    }
    c.close();
    Throwable failure = waiting.failure(10);
    assertTrue(
        failure == null
            ? waiting.result.getNow(null) == null
            : failure instanceof dev.collector.CollectorClosedException,
        "next() racing close() should return null or throw CollectorClosedException: " + failure);
  }

  @Test
  void nextWhileProcessRuns_concurrentUse_processWhilePull_concurrentUse(Broker broker)
      throws Exception {
    String topic = topic(broker, "next-vs-process", 1, 10);
    try (var c = open(config(broker), options(topic).build())) {
      var run = new KafkaAttackKit.Bg<>("run", () -> c.process(4, b -> {}));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().capacity() > 0);
      assertThrows(ConcurrentUseException.class, () -> c.next(Duration.ofMillis(100)));
      assertTrue(c.stop());
      run.value(30);
      assertNull(c.next(Duration.ofMillis(100)), "all 10 records were handled by the run");
      // the pull session is active now, whether or not it delivered anything
      assertThrows(ConcurrentUseException.class, () -> c.process(4, b -> {}));
    }
  }

  /** Core contract: without a pull session (ended by close) awaitCommitted returns at once. */
  @Test
  void awaitCommittedAfterClose_returnsAtOnce(Broker broker) throws Exception {
    String topic = topic(broker, "await-closed", 1, 20);
    var c = open(config(broker), options(topic).build());
    var d = take(c);
    take(c); // left unsettled
    d.ack();
    c.close();
    var awaited = new KafkaAttackKit.Bg<>("await", c::awaitCommitted);
    Throwable failure = awaited.failure(10);
    assertTrue(
        failure == null || failure instanceof dev.collector.CollectorClosedException,
        String.valueOf(failure));
  }

  /** Delivery "Races": between ack() and fail(), exactly one wins, the loser throws. */
  @Test
  void ackRacesFail_exactlyOneWins_deadLetterIffFailWon(Broker broker) throws Exception {
    String topic = topic(broker, "ack-vs-fail", 1, 100);
    var dead = new CopyOnWriteArrayList<Long>();
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter((batch, cause) -> dead.add(batch.sequence())))
            .build();
    try (var c = open(config(broker), opts)) {
      for (int i = 0; i < 10; i++) {
        var d = take(c);
        var go = new CountDownLatch(1);
        var acker =
            new KafkaAttackKit.Bg<>(
                "ack",
                () -> {
                  go.await();
                  return d.ack();
                });
        var failer =
            new KafkaAttackKit.Bg<>(
                "fail",
                () -> {
                  go.await();
                  return d.fail(new RuntimeException("race"));
                });
        go.countDown();
        Throwable ackFailure = acker.failure(20);
        Throwable failFailure = failer.failure(20);
        boolean ackWon = ackFailure == null;
        boolean failWon = failFailure == null;
        assertTrue(
            ackWon ^ failWon, "round " + i + ": ack " + ackFailure + ", fail " + failFailure);
        Throwable loser = ackWon ? failFailure : ackFailure;
        assertTrue(loser instanceof ConflictingOutcomeException, String.valueOf(loser));
        assertTrue(ackWon ? acker.result.getNow(false) : failer.result.getNow(false));
        assertEquals(failWon, dead.contains(d.batch().sequence()), "round " + i);
      }
    }
  }

  /** Delivery "Races": of concurrent ack() calls one returns true, the others false. */
  @Test
  void concurrentAcks_oneTrue_restFalse(Broker broker) throws Exception {
    String topic = topic(broker, "acks", 1, 20);
    try (var c = open(config(broker), options(topic).build())) {
      var d = take(c);
      var go = new CountDownLatch(1);
      List<KafkaAttackKit.Bg<Boolean>> ackers = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        ackers.add(
            new KafkaAttackKit.Bg<>(
                "ack-" + i,
                () -> {
                  go.await();
                  return d.ack();
                }));
      }
      go.countDown();
      int wins = 0;
      for (var a : ackers) {
        if (a.value(20)) {
          wins++;
        }
      }
      assertEquals(1, wins);
    }
  }

  /**
   * Delivery.fail: "If the session ended while the dead-letter handler ran, this call throws
   * StaleDeliveryException"; and the batch is not committed.
   */
  @Test
  void closeWhileFailRunsDeadLetterHandler_failThrowsStale_nothingCommitted(Broker broker)
      throws Exception {
    String topic = topic(broker, "close-during-dlt", 1, 20);
    var config = config(broker);
    var inHandler = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter(
                        (batch, cause) -> {
                          inHandler.countDown();
                          release.await();
                        }))
            .build();
    var c = open(config, opts);
    var d = take(c);
    var failing = new KafkaAttackKit.Bg<>("fail", () -> d.fail(new RuntimeException("x")));
    assertTrue(inHandler.await(20, TimeUnit.SECONDS));
    var closing =
        new KafkaAttackKit.Bg<>(
            "close",
            () -> {
              c.close();
              return null;
            });
    Throwable closeFailure = null;
    try {
      closing.result.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException waitsForHandler) {
      closeFailure = waitsForHandler; // close may wait for the dead-letter handler; allowed
    }
    release.countDown();
    closing.value(20);
    Throwable failFailure = failing.failure(20);
    System.out.println(
        "close while dead-lettering: close waited="
            + (closeFailure != null)
            + ", fail() -> "
            + (failFailure == null ? failing.result.getNow(null) : failFailure));
    if (closeFailure == null) {
      // close returned while the dead-letter handler ran: the session ended under it
      assertInstanceOf(StaleDeliveryException.class, failFailure);
      assertTrue(committed(broker, config, topic, 0) <= 0, "a stale dead letter was committed");
    }
  }

  /** Collector.awaitCommitted: racing close(), it returns once close's final commit covers it. */
  @Test
  void awaitCommittedRacingClose_returnsCoveredByFinalCommit(Broker broker) throws Exception {
    String topic = topic(broker, "await-vs-close", 1, 20);
    var config = config(broker);
    var c = open(config, options(topic).commitInterval(Duration.ofMinutes(10)).build());
    var d1 = take(c);
    take(c); // unsettled
    assertTrue(d1.ack());
    var go = new CountDownLatch(1);
    var awaiting =
        new KafkaAttackKit.Bg<>(
            "await",
            () -> {
              go.await();
              return c.awaitCommitted();
            });
    var closing =
        new KafkaAttackKit.Bg<>(
            "close",
            () -> {
              go.await();
              c.close();
              return null;
            });
    go.countDown();
    closing.value(30);
    awaiting.failure(30);
    assertEquals(end(d1), committed(broker, config, topic, 0));
  }

  /** next() javadoc: InterruptedException if interrupted while waiting; the session goes on. */
  @Test
  void interruptBlockedNext_throwsInterrupted_sessionGoesOn(Broker broker) throws Exception {
    String topic = topic(broker, "next-interrupt", 1, 5);
    var config = config(broker);
    try (var c = open(config, options(topic).build())) {
      var d = take(c);
      assertTrue(d.ack());
      var waiting = new KafkaAttackKit.Bg<>("next", () -> c.next(Duration.ofSeconds(60)));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> waiting.done() || waiting.thread.getState() == Thread.State.TIMED_WAITING);
      waiting.thread.interrupt();
      assertInstanceOf(InterruptedException.class, waiting.failure(10));
      Kit.produce(broker, topic, 5, i -> "later" + i);
      var next = take(c);
      assertEquals(5, next.batch().sequence(), "the session goes on where it was");
      assertTrue(next.ack());
      c.awaitCommitted();
    }
    assertEquals(10, committed(broker, config, topic, 0));
  }

  /** After stop() ended a pull session, process() may run ("one run at a time"). */
  @Test
  void processAfterPullSessionStopped_runs(Broker broker) throws Exception {
    String topic = topic(broker, "pull-then-process", 1, 30);
    var config = config(broker);
    var handled = new java.util.concurrent.atomic.AtomicInteger();
    try (var c = open(config, options(topic).build())) {
      var d = take(c);
      assertTrue(d.ack());
      assertTrue(c.stop());
      await().atMost(Duration.ofSeconds(30)).until(() -> c.progress().capacity() == 0);
      var run =
          new KafkaAttackKit.Bg<>("run", () -> c.process(4, b -> handled.addAndGet(b.size())));
      await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || handled.get() >= 25);
      assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      run.value(30);
    }
    assertEquals(25, handled.get(), "process resumed after the acked pull batch");
    assertEquals(30, committed(broker, config, topic, 0));
  }
}
