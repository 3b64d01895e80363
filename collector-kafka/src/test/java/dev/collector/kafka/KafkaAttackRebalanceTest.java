package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Attacks with a rebalance while member A's window is full of blocked handlers: G10 (no loss, no
 * commit past an unhandled record, no stale commit) and progress() hammered meanwhile.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaAttackRebalanceTest {

  @Test
  void rebalanceWhileWindowFull_nothingLost_noBadCommit(Broker broker) throws Exception {
    scenario(broker, false);
  }

  @Test
  void progressFromManyThreadsDuringRebalance_staysConsistent(Broker broker) throws Exception {
    scenario(broker, true);
  }

  private void scenario(Broker broker, boolean hammer) throws Exception {
    scenario(broker, hammer, "classic");
  }

  private void scenario(Broker broker, boolean hammer, String protocol) throws Exception {
    String topic = Kit.unique("rebalance-full");
    Kit.createTopic(broker, topic, 2);
    long total = Kit.produce(broker, topic, 40, i -> "k" + i);
    var config = Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), protocol);
    var ledger = new Kit.Ledger();
    var gate = new CountDownLatch(1);
    var bHandled = new AtomicInteger();
    var options =
        KafkaCollectorOptions.builder().topics(topic).revokeDrainTimeout(Duration.ofSeconds(1));
    List<String> progressViolations = new CopyOnWriteArrayList<>();
    var hammering = new AtomicBoolean(true);
    try (var a = Kit.open(config, options.name("A").build(), ledger::committed);
        var b = Kit.open(config, options.name("B").build(), ledger::committed)) {
      var runA =
          new KafkaAttackKit.Bg<>(
              "A",
              () ->
                  a.processRecords(
                      4,
                      4,
                      Ordering.UNORDERED,
                      r -> {
                        gate.await();
                        ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                      }));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> a.progress().uncommitted() == 4 && a.progress().running() == 4);
      List<Thread> hammers = new CopyOnWriteArrayList<>();
      if (hammer) {
        for (int i = 0; i < 4; i++) {
          hammers.add(
              Thread.ofPlatform()
                  .daemon(true)
                  .start(
                      () -> {
                        while (hammering.get()) {
                          try {
                            check(a.progress(), "A", progressViolations);
                            check(b.progress(), "B", progressViolations);
                          } catch (Throwable t) {
                            progressViolations.add("progress() threw " + t);
                          }
                        }
                      }));
        }
      }
      var runB =
          new KafkaAttackKit.Bg<>(
              "B",
              () ->
                  b.processRecords(
                      4,
                      4,
                      Ordering.UNORDERED,
                      r -> {
                        ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                        bHandled.incrementAndGet();
                      }));
      await().atMost(Duration.ofSeconds(40)).until(() -> bHandled.get() > 0 || runB.done());
      assertFalse(runB.done(), () -> "B ended: " + KafkaAttackKit.describe(runB));
      gate.countDown();
      Map<TopicPartition, Long> ends = Kit.endOffsets(broker, topic, 2);
      await()
          .atMost(Duration.ofSeconds(40))
          .until(
              () ->
                  Kit.committed(broker, (String) config.get("group.id")).equals(ends)
                      || runA.done()
                      || runB.done());
      hammering.set(false);
      for (Thread t : hammers) {
        t.join();
      }
      assertFalse(runA.done(), () -> "A ended: " + KafkaAttackKit.describe(runA));
      assertFalse(runB.done(), () -> "B ended: " + KafkaAttackKit.describe(runB));
      a.stop();
      b.stop();
      runA.value(30);
      runB.value(30);
    }
    assertEquals(List.of(), ledger.violations);
    assertEquals(total, ledger.distinct());
    assertEquals(List.of(), progressViolations);
  }

  /**
   * kafka.md: handlers of a revoked partition that ignore the interrupt still count in the window
   * ("uncommitted ... including handlers of revoked partitions still running"); their late
   * completions are fenced (counted in fenced()) and commit nothing.
   */
  @Test
  void revokedHandlersIgnoringInterrupt_countInWindow_lateCompletionsFenced(Broker broker)
      throws Exception {
    String topic = Kit.unique("rebalance-zombie");
    Kit.createTopic(broker, topic, 2);
    long total = Kit.produce(broker, topic, 40, i -> "k" + i);
    var config = Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic");
    var ledger = new Kit.Ledger();
    var release = new CountDownLatch(1);
    var interrupted = new CountDownLatch(4);
    var options =
        KafkaCollectorOptions.builder().topics(topic).revokeDrainTimeout(Duration.ofSeconds(1));
    try (var a = Kit.open(config, options.name("A").build(), ledger::committed);
        var b = Kit.open(config, options.name("B").build(), ledger::committed)) {
      var runA =
          new KafkaAttackKit.Bg<>(
              "A",
              () ->
                  a.processRecords(
                      4,
                      4,
                      Ordering.UNORDERED,
                      r -> {
                        if (release.getCount() > 0) {
                          KafkaAttackKit.awaitIgnoringInterrupts(release, interrupted);
                        }
                        ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> a.progress().running() == 4);
      // The epochs the blocked handlers belong to: released only once the revoke fenced them.
      Set<String> oldEpochs = epochs(a.progress());
      var runB =
          new KafkaAttackKit.Bg<>(
              "B",
              () ->
                  b.processRecords(
                      4,
                      4,
                      Ordering.UNORDERED,
                      r ->
                          ledger.handled(
                              new TopicPartition(r.topic(), r.partition()), r.offset())));
      assertTrue(interrupted.await(40, TimeUnit.SECONDS), "revoked handlers interrupted");
      // The revoke callback interrupts, then commits the handled prefix, then fences: a handler
      // that returns between the interrupt and the commit was handled and may be committed (not a
      // late completion). Release only after the fence, seen as A's old epochs gone.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> Collections.disjoint(epochs(a.progress()), oldEpochs));
      var during = a.progress();
      assertTrue(during.uncommitted() >= 4 && during.uncommitted() <= 4, during.toString());
      assertEquals(0, during.fenced(), during.toString());
      release.countDown();
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () ->
                  assertTrue(
                      a.progress().fenced() >= 4,
                      () ->
                          "A: "
                              + a.progress()
                              + "; run A "
                              + KafkaAttackKit.describe(runA)
                              + "; run B "
                              + KafkaAttackKit.describe(runB)));
      Map<TopicPartition, Long> ends = Kit.endOffsets(broker, topic, 2);
      await()
          .atMost(Duration.ofSeconds(40))
          .until(
              () ->
                  Kit.committed(broker, (String) config.get("group.id")).equals(ends)
                      || runA.done()
                      || runB.done());
      assertFalse(runA.done(), () -> "A ended: " + KafkaAttackKit.describe(runA));
      assertFalse(runB.done(), () -> "B ended: " + KafkaAttackKit.describe(runB));
      a.stop();
      b.stop();
      runA.value(30);
      runB.value(30);
    }
    assertEquals(List.of(), ledger.violations);
    assertEquals(total, ledger.distinct());
  }

  @Test
  void rebalanceWhileWindowFull_consumerProtocol_nothingLost(Broker broker) throws Exception {
    scenario(broker, false, "consumer");
  }

  /**
   * G5 during a revoke drain: the caller of process is interrupted while the rebalance callback
   * waits for the revoked partitions' handlers. It must throw InterruptedException (not one of
   * Kafka's runtime exceptions) with the status set, and leave no handler thread behind.
   */
  @Test
  void interruptDuringRevokeDrain_throwsInterruptedException_noThreadLeft(Broker broker)
      throws Exception {
    String topic = Kit.unique("revoke-interrupt");
    Kit.createTopic(broker, topic, 2);
    Kit.produce(broker, topic, 40, i -> "k" + i);
    var config = Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic");
    var ledger = new Kit.Ledger();
    var threads = new CopyOnWriteArrayList<Thread>();
    var options =
        KafkaCollectorOptions.builder().topics(topic).revokeDrainTimeout(Duration.ofSeconds(15));
    try (var a = Kit.open(config, options.name("A").build(), ledger::committed);
        var b = Kit.open(config, options.name("B").build(), ledger::committed)) {
      var runA =
          new KafkaAttackKit.Bg<>(
              "A",
              () ->
                  a.processRecords(
                      4,
                      4,
                      Ordering.UNORDERED,
                      r -> {
                        threads.add(Thread.currentThread());
                        new CountDownLatch(1).await();
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> a.progress().running() == 4);
      var runB =
          new KafkaAttackKit.Bg<>(
              "B",
              () ->
                  b.processRecords(
                      4,
                      4,
                      Ordering.UNORDERED,
                      r ->
                          ledger.handled(
                              new TopicPartition(r.topic(), r.partition()), r.offset())));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  runA.done() || KafkaAttackKit.stack(runA.thread).contains("onPartitionsRevoked"));
      assertFalse(runA.done(), () -> "A ended: " + KafkaAttackKit.describe(runA));
      runA.thread.interrupt();
      Throwable failure = runA.failure(30);
      assertTrue(
          failure instanceof InterruptedException, "expected InterruptedException, got " + failure);
      assertTrue(runA.interruptedAtEnd, "interrupt status kept");
      for (Thread t : threads) {
        assertFalse(t.isAlive(), "handler thread alive after process threw (G4)");
      }
      b.stop();
      runB.value(30);
    }
    assertEquals(List.of(), ledger.violations);
  }

  private static void check(KafkaProgress p, String who, List<String> violations) {
    if (p.uncommitted() > p.capacity()
        || p.uncommitted() < 0
        || p.running() < 0
        || p.running() > p.capacity()) {
      violations.add(who + ": " + p);
    }
    PartitionProgress previous = null;
    for (PartitionProgress pp : p.partitions()) {
      if (previous != null
          && (previous.topic().compareTo(pp.topic()) > 0
              || (previous.topic().equals(pp.topic()) && previous.partition() >= pp.partition()))) {
        violations.add(who + ": partitions not ordered/unique: " + p.partitions());
      }
      if (pp.inFlight() < 0 || pp.running() < 0 || pp.waiting() < 0) {
        violations.add(who + ": negative counts " + pp);
      }
      previous = pp;
    }
    if (violations.size() > 20) {
      violations.subList(20, violations.size()).clear();
    }
  }

  private static Set<String> epochs(KafkaProgress progress) {
    Set<String> epochs = new HashSet<>();
    for (PartitionProgress p : progress.partitions()) {
      epochs.add(p.topic() + "-" + p.partition() + "@" + p.epoch());
    }
    return epochs;
  }
}
