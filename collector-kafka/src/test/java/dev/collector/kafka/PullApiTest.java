package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchAbandonedException;
import dev.collector.BatchFailedException;
import dev.collector.ConcurrentUseException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.StaleDeliveryException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The pull API on Kafka: out-of-order acks commit in order per partition; a delivery whose
 * partition moved to another member is stale (its ack throws and commits nothing); misuse and
 * abandonment.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PullApiTest {

  @Test
  void acksInAnyOrder_commitInOrderPerPartition(Broker broker) throws Exception {
    long seed = Kit.seed();
    String context = "seed " + seed + " (rerun with -Dcollector.seed=" + seed + "): ";
    var random = new Random(seed);
    String topic = Kit.unique("pull");
    Kit.createTopic(broker, topic, 3);
    long total = Kit.produce(broker, topic, 3_000, i -> "k" + i);
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    var options =
        KafkaCollectorOptions.builder()
            .name("pull")
            .topics(topic)
            .maxBatch(20, 1 << 20)
            .pullDepth(16)
            .build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), group, "classic"), options, ledger::committed)) {
      List<Delivery<ConsumerRecord<String, String>>> held = new ArrayList<>();
      while (ledger.distinct() < total) {
        var d = collector.next(Duration.ofSeconds(held.isEmpty() ? 10 : 1));
        if (d == null) {
          assertFalse(held.isEmpty(), context + "nothing delivered; handled " + ledger.distinct());
        } else {
          held.add(d);
        }
        if (d == null || held.size() >= 8 || random.nextInt(4) == 0) {
          Collections.shuffle(held, random); // settle out of order
          for (var h : held) {
            for (ConsumerRecord<String, String> r : h.batch().records()) {
              ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
            }
            assertTrue(h.ack());
            assertFalse(h.ack(), "a second ack is harmless");
          }
          held.clear();
        }
      }
      collector.awaitCommitted();
      assertEquals(Kit.endOffsets(broker, topic, 3), Kit.committed(broker, group), context);
    }
    assertEquals(List.of(), ledger.violations, context);
  }

  @Test
  void deliveryOfARevokedPartition_isStale_andCommitsNothing(Broker broker) throws Exception {
    String topic = Kit.unique("pull-stale");
    Kit.createTopic(broker, topic, 2);
    Kit.produce(broker, topic, 400, i -> "k" + i);
    Map<TopicPartition, Long> ends = Kit.endOffsets(broker, topic, 2);
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    var config = Kit.consumerConfig(broker.bootstrap(), group, "classic");
    var options =
        KafkaCollectorOptions.builder()
            .topics(topic)
            .maxBatch(50, 1 << 20)
            .revokeDrainTimeout(Duration.ofMillis(300));
    ExecutorService runs = Executors.newVirtualThreadPerTaskExecutor();
    try (var a = Kit.open(config, options.name("A").build(), ledger::committed);
        var b = Kit.open(config, options.name("B").build(), ledger::committed)) {
      // A pulls one batch of each partition and holds them
      var first = a.next(Duration.ofSeconds(20));
      assertNotNull(first);
      List<Delivery<ConsumerRecord<String, String>>> held = new ArrayList<>(List.of(first));
      while (held.stream().map(d -> d.batch().records().get(0).partition()).distinct().count()
          < 2) {
        var d = a.next(Duration.ofSeconds(20));
        assertNotNull(d);
        held.add(d);
      }
      Future<?> runB =
          runs.submit(() -> b.process(8, batch -> FencingTest.handle(ledger, batch.records())));
      // B takes over a partition (eager rebalance: A's held deliveries are revoked) and commits
      // it to its end
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                Map<TopicPartition, Long> committed = Kit.committed(broker, group);
                return b.progress().partitions().stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition()))
                    .anyMatch(tp -> ends.get(tp).equals(committed.get(tp)));
              });
      int stale = 0;
      for (var d : held) {
        try {
          d.ack();
        } catch (StaleDeliveryException e) {
          stale++;
          assertTrue(e.getMessage().contains("revoked or lost"), e.getMessage());
          assertEquals(d.batch().sequence(), e.sequence());
        }
      }
      assertTrue(stale >= 1, "a held delivery of a partition that moved must be stale");
      a.stop();
      b.stop();
      runB.get(30, TimeUnit.SECONDS);
    } finally {
      runs.shutdownNow();
    }
    assertEquals(List.of(), ledger.violations);
  }

  @Test
  void misuse_conflictingOutcome_concurrentProcess_abandonedDeliveryFailsTheSession(Broker broker)
      throws Exception {
    String topic = Kit.unique("pull-misuse");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 100, i -> "k" + i);
    var options =
        KafkaCollectorOptions.builder().name("pm").topics(topic).maxBatch(10, 1 << 20).build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic"),
            options,
            Committer.CommitObserver.NONE)) {
      var d = collector.next(Duration.ofSeconds(20));
      assertNotNull(d);
      assertTrue(d.ack());
      assertThrows(ConflictingOutcomeException.class, () -> d.fail(new RuntimeException("x")));
      assertThrows(ConcurrentUseException.class, () -> collector.process(4, batch -> {}));

      var abandoned = collector.next(Duration.ofSeconds(20));
      assertNotNull(abandoned);
      abandoned.close(); // neither acked nor failed: fails it, fail-fast ends the session
      BatchFailedException e = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (e == null && System.nanoTime() < deadline) {
        try {
          var next = collector.next(Duration.ofMillis(200));
          if (next != null) {
            next.ack(); // may still come before the session notices; it is then stale or fine
          }
        } catch (BatchFailedException failed) {
          e = failed;
        } catch (StaleDeliveryException ignored) {
          // delivered before the session ended
        }
      }
      assertNotNull(e, "the session should report the abandoned batch");
      assertInstanceOf(BatchAbandonedException.class, e.getCause());
      assertEquals(abandoned.batch().sequence(), e.sequence());
      assertNotNull(collector.next(Duration.ofSeconds(20)), "a new session delivers again");
    }
  }
}
