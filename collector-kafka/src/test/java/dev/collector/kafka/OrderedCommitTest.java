package dev.collector.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.ProcessSummary;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * G10's G1 per partition and the global depth bound, under random handler latencies: 8 partitions,
 * 100 000 records. After every commit each partition's offset covers handled records only;
 * uncommitted units never exceed depth; in KEY mode no two records of one key overlap and they run
 * in offset order. Latencies come from a seeded random (printed; rerun with {@code
 * -Dcollector.seed=N}).
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class OrderedCommitTest {

  private static final int PARTITIONS = 8;
  private static final int RECORDS = 100_000;

  @Test
  void batchMode_commitsOnlyHandledPrefixes_depthNeverExceeded(Broker broker) throws Exception {
    long seed = Kit.seed();
    String context = "seed " + seed + " (rerun with -Dcollector.seed=" + seed + "): ";
    System.out.println("OrderedCommitTest batch " + context);
    String topic = Kit.unique("ordered-batch");
    Kit.createTopic(broker, topic, PARTITIONS);
    long total = Kit.produce(broker, topic, RECORDS, i -> "k" + (i % 10_000));
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    int depth = 16;
    var options =
        KafkaCollectorOptions.builder()
            .name("ordered")
            .topics(topic)
            .maxBatch(100, 1 << 20)
            .commitInterval(Duration.ofMillis(5))
            .build();
    var allHandled = new CountDownLatch(1);
    AtomicInteger maxUncommitted = new AtomicInteger();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), group, "classic"), options, ledger::committed)) {
      Thread.ofVirtual().start(() -> awaitThenStop(allHandled, collector));
      ProcessSummary summary =
          collector.process(
              depth,
              batch -> {
                maxUncommitted.accumulateAndGet(collector.progress().uncommitted(), Math::max);
                jitter(seed, batch.sequence());
                for (ConsumerRecord<String, String> r : batch.records()) {
                  ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                }
                if (ledger.distinct() == total) {
                  allHandled.countDown();
                }
              });
      System.out.println("batch mode: " + summary);
    }
    assertEquals(List.of(), ledger.violations, context);
    assertTrue(
        maxUncommitted.get() <= depth,
        context + "uncommitted reached " + maxUncommitted + " > depth " + depth);
    assertEquals(Kit.endOffsets(broker, topic, PARTITIONS), Kit.committed(broker, group), context);
  }

  @ParameterizedTest
  @EnumSource(Ordering.class)
  void recordMode_keysNeverOverlapAndRunInOffsetOrder(Ordering ordering, Broker broker)
      throws Exception {
    long seed = Kit.seed();
    String context =
        "seed " + seed + " (rerun with -Dcollector.seed=" + seed + "), " + ordering + ": ";
    System.out.println("OrderedCommitTest record " + context);
    int produce = ordering == Ordering.KEY ? RECORDS : RECORDS / 5;
    String topic = Kit.unique("ordered-" + ordering);
    Kit.createTopic(broker, topic, PARTITIONS);
    long records = Kit.produce(broker, topic, produce, i -> "k" + (i % 1_000));
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    int depth = 2_000;
    int concurrency = 64;
    Map<String, AtomicInteger> runningPerKey = new ConcurrentHashMap<>();
    Map<String, Long> lastOffsetPerKey = new ConcurrentHashMap<>();
    Map<Integer, AtomicInteger> runningPerPartition = new ConcurrentHashMap<>();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicInteger maxUncommitted = new AtomicInteger();
    var allHandled = new CountDownLatch(1);
    var options =
        KafkaCollectorOptions.builder()
            .name("ordered-" + ordering)
            .topics(topic)
            .commitInterval(Duration.ofMillis(5))
            .build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), group, "classic"), options, ledger::committed)) {
      Thread.ofVirtual().start(() -> awaitThenStop(allHandled, collector));
      ProcessSummary summary =
          collector.processRecords(
              depth,
              concurrency,
              ordering,
              r -> {
                maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                String key = r.partition() + "/" + r.key();
                int sameKey =
                    runningPerKey.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                int samePartition =
                    runningPerPartition
                        .computeIfAbsent(r.partition(), k -> new AtomicInteger())
                        .incrementAndGet();
                if (ordering != Ordering.UNORDERED) {
                  if (sameKey > 1) {
                    ledger.violations.add(
                        "key " + key + " ran twice at once, at offset " + r.offset());
                  }
                  Long last = lastOffsetPerKey.put(key, r.offset());
                  if (last != null && last > r.offset()) {
                    ledger.violations.add(
                        "key " + key + " ran offset " + r.offset() + " after " + last);
                  }
                }
                if (ordering == Ordering.PARTITION && samePartition > 1) {
                  ledger.violations.add("partition " + r.partition() + " ran two records at once");
                }
                if ((r.offset() & 63) == 0) {
                  maxUncommitted.accumulateAndGet(collector.progress().uncommitted(), Math::max);
                }
                jitter(seed, r.offset() * 31 + r.partition());
                runningPerPartition.get(r.partition()).decrementAndGet();
                runningPerKey.get(key).decrementAndGet();
                running.decrementAndGet();
                ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                if (ledger.distinct() == records) {
                  allHandled.countDown();
                }
              });
      System.out.println(ordering + " record mode: " + summary);
    }
    assertEquals(
        List.of(), ledger.violations.subList(0, Math.min(10, ledger.violations.size())), context);
    assertTrue(maxUncommitted.get() <= depth, context + "uncommitted " + maxUncommitted);
    assertTrue(maxRunning.get() <= concurrency, context + "running " + maxRunning);
    assertEquals(Kit.endOffsets(broker, topic, PARTITIONS), Kit.committed(broker, group), context);
  }

  /** Seeded latency: most units run at once, some park up to 2 ms, so they finish out of order. */
  static void jitter(long seed, long unit) {
    long h = seed ^ (unit * 0x9E3779B97F4A7C15L);
    h ^= h >>> 29;
    int r = (int) Math.floorMod(h * 0xBF58476D1CE4E5B9L, 100L);
    if (r < 10) {
      LockSupport.parkNanos(200_000 + Math.floorMod(h, 1_800_000L));
    } else if (r < 30) {
      Thread.yield();
    }
  }

  static void awaitThenStop(CountDownLatch latch, KafkaCollector<?, ?> collector) {
    try {
      latch.await();
      collector.stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
