package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * G10 fencing: collector A holds the first batch of each partition in a handler that ignores
 * interrupts and outlives the revoke drain bound. B joins; A's partitions are revoked (all of them
 * with the classic eager protocol, some with the consumer protocol), drained with a deadline,
 * fenced; B handles and commits a moved partition to its end. Then A's stale handlers return: the
 * completions are counted as fenced and never commit -- a stale commit would move the moved
 * partition's offset backwards, which the ledger reports.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FencingTest {

  @ParameterizedTest
  @ValueSource(strings = {"classic", "consumer"})
  void lateCompletionOfARevokedPartition_neverCommits(String protocol, Broker broker)
      throws Exception {
    String topic = Kit.unique("fencing-" + protocol);
    int partitions = 2;
    Kit.createTopic(broker, topic, partitions);
    long total = Kit.produce(broker, topic, 2_000, i -> "k" + i);
    Map<TopicPartition, Long> ends = Kit.endOffsets(broker, topic, partitions);
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    Map<String, Map<TopicPartition, Long>> commitsBy = new ConcurrentHashMap<>();
    Committer.CommitObserver observer =
        (collector, offsets) -> {
          ledger.committed(collector, offsets);
          commitsBy.computeIfAbsent(collector, k -> new ConcurrentHashMap<>()).putAll(offsets);
        };
    var release = new CountDownLatch(1);
    Set<Integer> blockedOnce = ConcurrentHashMap.newKeySet();
    AtomicInteger blocked = new AtomicInteger();
    AtomicInteger ignoredInterrupts = new AtomicInteger();
    var options =
        KafkaCollectorOptions.builder()
            .topics(topic)
            .maxBatch(50, 1 << 20)
            .revokeDrainTimeout(Duration.ofMillis(500))
            .commitInterval(Duration.ofMillis(10));
    var config = Kit.consumerConfig(broker.bootstrap(), group, protocol);
    ExecutorService runs = Executors.newVirtualThreadPerTaskExecutor();
    try (var a = Kit.open(config, options.name("A").build(), observer);
        var b = Kit.open(config, options.name("B").build(), observer)) {
      try {
        scenario(
            a,
            b,
            runs,
            ledger,
            commitsBy,
            release,
            blockedOnce,
            blocked,
            ignoredInterrupts,
            ends,
            total,
            broker,
            group);
      } catch (Throwable t) {
        throw new AssertionError(
            protocol
                + ": A "
                + a.progress()
                + "; B "
                + b.progress()
                + "; commits "
                + commitsBy
                + "; violations "
                + ledger.violations,
            t);
      } finally {
        release.countDown(); // never leave a run waiting for a handler that ignores interrupts
      }
    } finally {
      runs.shutdownNow();
    }
    assertEquals(List.of(), ledger.violations);
    assertTrue(ignoredInterrupts.get() >= 1, "the revoke drain bound should have interrupted A");
    assertEquals(ends, Kit.committed(broker, group));
  }

  private static void scenario(
      KafkaCollector<String, String> a,
      KafkaCollector<String, String> b,
      ExecutorService runs,
      Kit.Ledger ledger,
      Map<String, Map<TopicPartition, Long>> commitsBy,
      CountDownLatch release,
      Set<Integer> blockedOnce,
      AtomicInteger blocked,
      AtomicInteger ignoredInterrupts,
      Map<TopicPartition, Long> ends,
      long total,
      Broker broker,
      String group)
      throws Exception {
    int partitions = ends.size();
    {
      Future<?> runA =
          runs.submit(
              () ->
                  a.process(
                      64,
                      batch -> {
                        ConsumerRecord<String, String> first = batch.records().get(0);
                        if (first.offset() == 0 && blockedOnce.add(first.partition())) {
                          blocked.incrementAndGet();
                          awaitIgnoringInterrupts(
                              release, ignoredInterrupts); // a handler that outlives the drain
                        }
                        handle(ledger, batch.records());
                      }));
      await().atMost(Duration.ofSeconds(20)).until(() -> blocked.get() == partitions);

      Future<?> runB = runs.submit(() -> b.process(64, batch -> handle(ledger, batch.records())));
      // B owns a partition and committed it to its end: the moved partition is done by B.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  b.progress().partitions().stream()
                      .map(p -> new TopicPartition(p.topic(), p.partition()))
                      .anyMatch(
                          tp ->
                              ends.get(tp).equals(commitsBy.getOrDefault("B", Map.of()).get(tp))));

      release.countDown(); // A's stale handlers return now, long after their partitions moved
      await().atMost(Duration.ofSeconds(10)).until(() -> a.progress().fenced() >= 1);
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.distinct() == total);
      await().atMost(Duration.ofSeconds(30)).until(() -> ends.equals(Kit.committed(broker, group)));
      a.stop();
      b.stop();
      runA.get(30, TimeUnit.SECONDS);
      runB.get(30, TimeUnit.SECONDS);
    }
  }

  static void handle(Kit.Ledger ledger, List<ConsumerRecord<String, String>> records) {
    for (ConsumerRecord<String, String> r : records) {
      ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
    }
  }

  /** Waits for the latch; counts and then restores the interrupts it got. */
  static void awaitIgnoringInterrupts(CountDownLatch latch, AtomicInteger interrupts) {
    boolean interrupted = false;
    while (true) {
      try {
        latch.await();
        break;
      } catch (InterruptedException e) {
        interrupts.incrementAndGet();
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
