package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Micrometer binder on a real broker: per-partition lag and in-flight gauges appear for the
 * assigned partitions with the right values (lag = end offset - committed, before and after the
 * handlers finish), follow a rebalance (a second member joins and leaves), leave with the run and
 * with close(); the collector-level meters count what the run did; bind twice, bind a closed
 * collector, a second collector of the same name, a registry that throws.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // binders opened for their effect on the registry
class KafkaCollectorMetricsTest {

  @Test
  void partitionGauges_followAssignment_withLagAndInFlight(Broker broker) throws Exception {
    String topic = Kit.unique("metrics");
    Kit.createTopic(broker, topic, 2);
    long total = Kit.produce(broker, topic, 200, i -> "k" + i);
    Map<TopicPartition, Long> ends = Kit.endOffsets(broker, topic, 2);
    String group = Kit.unique("g");
    var config = Kit.consumerConfig(broker.bootstrap(), group, "classic");
    var options =
        KafkaCollectorOptions.builder()
            .topics(topic)
            .maxBatch(10, 1 << 20)
            .commitInterval(Duration.ofMillis(10));
    MeterRegistry registry = new SimpleMeterRegistry();
    var release = new CountDownLatch(1);
    ExecutorService runs = Executors.newVirtualThreadPerTaskExecutor();
    try (var a = Kit.open(config, options.name("A").build(), Committer.CommitObserver.NONE);
        var b = Kit.open(config, options.name("B").build(), Committer.CommitObserver.NONE);
        var metrics = KafkaCollectorMetrics.bind(a, registry)) {
      assertEquals(Set.of(), partitionsWithGauges(registry, "A"), "no run, no partition");
      assertEquals(0.0, registry.get("collector.capacity").tag("collector", "A").gauge().value());
      Future<?> runA = runs.submit(() -> a.process(256, batch -> release.await()));
      // every record fetched, none handled: lag is the whole partition, in flight its batches
      await().atMost(Duration.ofSeconds(20)).until(() -> lags(registry, "A").equals(ends));
      assertEquals(ends.keySet(), partitionsWithGauges(registry, "A"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  a.progress().partitions().stream()
                      .allMatch(
                          p ->
                              p.fetched()
                                  == ends.get(new TopicPartition(p.topic(), p.partition()))));
      double batches = 0;
      for (PartitionProgress p : a.progress().partitions()) {
        TopicPartition tp = new TopicPartition(p.topic(), p.partition());
        assertEquals((double) p.inFlight(), inFlight(registry, "A").get(tp), tp.toString());
        assertTrue(p.inFlight() >= (ends.get(tp) + 9) / 10, tp + " at most 10 records a batch");
        batches += p.inFlight();
      }
      assertEquals(
          batches, registry.get("collector.in.flight").tag("collector", "A").gauge().value());
      assertEquals(256.0, registry.get("collector.capacity").tag("collector", "A").gauge().value());
      assertEquals(0.0, counter(registry, "collector.records", "A"));

      release.countDown(); // handled and committed: no lag, nothing in flight
      Map<TopicPartition, Double> zero =
          Map.of(new TopicPartition(topic, 0), 0.0, new TopicPartition(topic, 1), 0.0);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  lags(registry, "A")
                          .equals(
                              Map.of(
                                  new TopicPartition(topic, 0),
                                  0L,
                                  new TopicPartition(topic, 1),
                                  0L))
                      && inFlight(registry, "A").equals(zero));
      assertEquals(total, counter(registry, "collector.records", "A"));
      assertEquals(batches, counter(registry, "collector.batches.acknowledged", "A"));
      assertTrue(counter(registry, "collector.commits", "A") >= 1);

      // B joins: A keeps exactly the partitions it owns now (eager: both revoked, one back)
      Future<?> runB = runs.submit(() -> b.process(64, batch -> {}));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> a.progress().partitions().size() == 1 && b.progress().partitions().size() == 1);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> partitionsWithGauges(registry, "A").equals(owned(a)));
      assertEquals(1, partitionsWithGauges(registry, "A").size());
      // B leaves: the partition returns to A, and reports again
      b.stop();
      runB.get(30, TimeUnit.SECONDS);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  partitionsWithGauges(registry, "A").equals(ends.keySet())
                      && lags(registry, "A").size() == 2);

      a.stop(); // the run ends: its partitions' gauges go, the collector's stay
      runA.get(30, TimeUnit.SECONDS);
      assertEquals(Set.of(), partitionsWithGauges(registry, "A"));
      assertEquals(0.0, registry.get("collector.capacity").tag("collector", "A").gauge().value());
    } finally {
      release.countDown();
      runs.shutdownNow();
    }
    assertEquals(List.of(), meters(registry, "A"), "close() removes every meter");
  }

  @Test
  void closeOfBinderOrCollector_removesEverything_andMisuseIsRefused(Broker broker)
      throws Exception {
    String topic = Kit.unique("metrics-close");
    Kit.createTopic(broker, topic, 3);
    Kit.produce(broker, topic, 30, i -> "k" + i);
    var config = Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic");
    var options = KafkaCollectorOptions.builder().name("C").topics(topic).build();
    MeterRegistry registry = new SimpleMeterRegistry();
    var release = new CountDownLatch(1);
    ExecutorService runs = Executors.newVirtualThreadPerTaskExecutor();
    try (var c = Kit.open(config, options, Committer.CommitObserver.NONE)) {
      Future<?> run = runs.submit(() -> c.process(8, batch -> release.await()));
      await().atMost(Duration.ofSeconds(20)).until(() -> c.progress().partitions().size() == 3);
      // bound while partitions are assigned: they get gauges at once
      var first = KafkaCollectorMetrics.bind(c, registry);
      assertEquals(3, partitionsWithGauges(registry, "C").size());
      int count = meters(registry, "C").size();
      try (var again = KafkaCollectorMetrics.bind(c, registry)) {
        assertEquals(count, meters(registry, "C").size(), "binding twice registers nothing");
      }
      assertEquals(count, meters(registry, "C").size(), "its close() removes nothing");
      try (var other = Kit.open(config, options, Committer.CommitObserver.NONE)) {
        var e =
            assertThrows(
                IllegalStateException.class, () -> KafkaCollectorMetrics.bind(other, registry));
        assertTrue(e.getMessage().contains("'C'"), e.getMessage());
      }
      first.close();
      assertEquals(List.of(), meters(registry, "C"), "the binder's close removes every meter");
      first.close(); // idempotent

      // a registry that refuses the lag gauges: the run goes on, those partitions have none
      MeterRegistry refusing = new SimpleMeterRegistry();
      refusing
          .config()
          .onMeterAdded(
              m -> {
                if (m.getId().getName().equals("collector.kafka.partition.lag")) {
                  throw new IllegalStateException("refused");
                }
              });
      try (var m = KafkaCollectorMetrics.bind(c, refusing)) {
        assertEquals(Set.of(), partitionsWithGauges(refusing, "C"));
        assertEquals(3, c.progress().partitions().size());
      }
      // a registry that refuses a collector-level meter: bind throws, nothing stays
      MeterRegistry broken = new SimpleMeterRegistry();
      broken
          .config()
          .onMeterAdded(
              m -> {
                if (m.getId().getName().equals("collector.commits")) {
                  throw new IllegalStateException("refused");
                }
              });
      assertThrows(IllegalStateException.class, () -> KafkaCollectorMetrics.bind(c, broken));
      assertEquals(List.of(), meters(broken, "C"));

      var second = KafkaCollectorMetrics.bind(c, registry);
      assertEquals(3, partitionsWithGauges(registry, "C").size());
      release.countDown();
      c.close(); // the collector's close removes them too
      run.get(30, TimeUnit.SECONDS);
      assertEquals(List.of(), meters(registry, "C"));
      second.close();
      try (var late = KafkaCollectorMetrics.bind(c, registry)) {
        assertEquals(List.of(), meters(registry, "C"), "a closed collector registers nothing");
      }
    } finally {
      release.countDown();
      runs.shutdownNow();
    }
  }

  static Set<TopicPartition> owned(KafkaCollector<?, ?> c) {
    return c.progress().partitions().stream()
        .map(p -> new TopicPartition(p.topic(), p.partition()))
        .collect(
            Collectors.toCollection(
                () ->
                    new TreeSet<>(
                        (x, y) ->
                            x.topic().equals(y.topic())
                                ? Integer.compare(x.partition(), y.partition())
                                : x.topic().compareTo(y.topic()))));
  }

  static List<Meter> meters(MeterRegistry registry, String collector) {
    return registry.getMeters().stream()
        .filter(m -> collector.equals(m.getId().getTag("collector")))
        .toList();
  }

  static Set<TopicPartition> partitionsWithGauges(MeterRegistry registry, String collector) {
    Set<TopicPartition> lag =
        gaugeValues(registry, "collector.kafka.partition.lag", collector).keySet();
    Set<TopicPartition> inFlight =
        gaugeValues(registry, "collector.kafka.partition.in.flight", collector).keySet();
    assertEquals(lag, inFlight, "lag and in-flight gauges come and go together");
    return Set.copyOf(lag);
  }

  /** The lag gauges that have a value (NaN: not known yet), as longs. */
  static Map<TopicPartition, Long> lags(MeterRegistry registry, String collector) {
    Map<TopicPartition, Long> out =
        new TreeMap<>(
            (x, y) ->
                x.topic().equals(y.topic())
                    ? Integer.compare(x.partition(), y.partition())
                    : x.topic().compareTo(y.topic()));
    gaugeValues(registry, "collector.kafka.partition.lag", collector)
        .forEach(
            (tp, v) -> {
              if (!v.isNaN()) {
                out.put(tp, v.longValue());
              }
            });
    return out;
  }

  static Map<TopicPartition, Double> inFlight(MeterRegistry registry, String collector) {
    return gaugeValues(registry, "collector.kafka.partition.in.flight", collector);
  }

  static Map<TopicPartition, Double> gaugeValues(
      MeterRegistry registry, String name, String collector) {
    Map<TopicPartition, Double> out = new java.util.HashMap<>();
    registry
        .find(name)
        .tag("collector", collector)
        .gauges()
        .forEach(
            g ->
                out.put(
                    new TopicPartition(
                        g.getId().getTag("topic"), Integer.parseInt(g.getId().getTag("partition"))),
                    g.value()));
    return out;
  }

  static double counter(MeterRegistry registry, String name, String collector) {
    return registry.get(name).tag("collector", collector).functionCounter().count();
  }
}
