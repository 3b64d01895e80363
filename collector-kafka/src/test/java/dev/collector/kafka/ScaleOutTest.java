package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.ProcessSummary;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * G10 scale-out: three collectors in one group split 8 partitions; mid-run a fourth joins, one
 * leaves gracefully (stop) and one is closed without drain. Every record is handled at least once,
 * no commit passes an unhandled record, no offset moves backwards (a stale owner's commit would),
 * and the group ends committed at the end of every partition.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ScaleOutTest {

  private static final int PARTITIONS = 8;

  @ParameterizedTest
  @ValueSource(strings = {"classic", "consumer"})
  void membersJoinLeaveAndDie_nothingLost_nothingCommittedPastAGap(String protocol, Broker broker)
      throws Exception {
    long seed = Kit.seed();
    String context = protocol + ", seed " + seed + " (rerun with -Dcollector.seed=" + seed + "): ";
    System.out.println("ScaleOutTest " + context);
    String topic = Kit.unique("scale-" + protocol);
    Kit.createTopic(broker, topic, PARTITIONS);
    long total = Kit.produce(broker, topic, 30_000, i -> "k" + (i % 5_000));
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    Map<String, AtomicLong> handledBy = new ConcurrentHashMap<>();
    var options =
        KafkaCollectorOptions.builder()
            .topics(topic)
            .maxBatch(20, 1 << 20)
            .revokeDrainTimeout(Duration.ofSeconds(2))
            .commitInterval(Duration.ofMillis(20));
    var config = Kit.consumerConfig(broker.bootstrap(), group, protocol);
    ExecutorService runs = Executors.newVirtualThreadPerTaskExecutor();
    List<KafkaCollector<String, String>> all = new ArrayList<>();
    Map<String, Future<ProcessSummary>> futures = new ConcurrentHashMap<>();
    try {
      for (String name : List.of("A", "B", "C", "D")) {
        all.add(Kit.open(config, options.name(name).build(), ledger::committed));
      }
      for (int i = 0; i < 3; i++) {
        start(all.get(i), runs, futures, ledger, handledBy, seed);
      }
      awaitHandled(ledger, total / 5, context, all);
      start(all.get(3), runs, futures, ledger, handledBy, seed); // D joins
      awaitHandled(ledger, 2 * total / 5, context, all);
      all.get(1).stop(); // B leaves gracefully
      futures.get("B").get(30, TimeUnit.SECONDS);
      awaitHandled(ledger, 3 * total / 5, context, all);
      all.get(2).close(); // C is closed without drain: handlers interrupted, prefix committed
      awaitHandled(ledger, total, context, all);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> Kit.endOffsets(broker, topic, PARTITIONS).equals(Kit.committed(broker, group)));
      all.get(0).stop();
      all.get(3).stop();
      for (Future<ProcessSummary> f : futures.values()) {
        try {
          f.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          if (!(e.getCause() instanceof InterruptedException)) {
            throw e;
          }
        }
      }
    } finally {
      for (KafkaCollector<String, String> c : all) {
        c.close();
      }
      runs.shutdownNow();
    }
    System.out.println("ScaleOutTest handled per member: " + handledBy);
    assertEquals(List.of(), ledger.violations, context);
    assertEquals(Kit.endOffsets(broker, topic, PARTITIONS), Kit.committed(broker, group), context);
    assertTrue(
        handledBy.getOrDefault("D", new AtomicLong()).get() > 0,
        context + "the member that joined got no work: " + handledBy);
  }

  private static void start(
      KafkaCollector<String, String> c,
      ExecutorService runs,
      Map<String, Future<ProcessSummary>> futures,
      Kit.Ledger ledger,
      Map<String, AtomicLong> handledBy,
      long seed) {
    AtomicLong mine = handledBy.computeIfAbsent(c.name(), k -> new AtomicLong());
    futures.put(
        c.name(),
        runs.submit(
            () ->
                c.process(
                    4,
                    batch -> {
                      OrderedCommitTest.jitter(
                          seed, batch.sequence() * 7 + batch.records().get(0).partition());
                      LockSupport.parkNanos(
                          1_000_000); // ~1 ms per batch, so membership changes land mid-run
                      for (ConsumerRecord<String, String> r : batch.records()) {
                        ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                      }
                      mine.addAndGet(batch.size());
                    })));
  }

  private static void awaitHandled(
      Kit.Ledger ledger, long count, String context, List<KafkaCollector<String, String>> all) {
    try {
      await().atMost(Duration.ofSeconds(40)).until(() -> ledger.distinct() >= count);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      StringBuilder state = new StringBuilder();
      for (KafkaCollector<String, String> c : all) {
        state.append("\n  ").append(c.name()).append(": ").append(c.progress());
      }
      throw new AssertionError(
          context
              + "handled "
              + ledger.distinct()
              + " of "
              + count
              + "; violations "
              + ledger.violations
              + state,
          e);
    }
  }
}
