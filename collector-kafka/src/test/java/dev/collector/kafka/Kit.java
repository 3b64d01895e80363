package dev.collector.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Topics, producing, consumer settings and offset look-ups for the tests. */
final class Kit {

  private static final AtomicInteger NAMES = new AtomicInteger();

  private Kit() {}

  static String unique(String prefix) {
    return prefix + "-" + NAMES.incrementAndGet() + "-" + Long.toHexString(System.nanoTime());
  }

  static void createTopic(Broker broker, String topic, int partitions) throws Exception {
    try (Admin admin = broker.admin()) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
      // Producing before every partition has a leader confuses the idempotent producer.
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (true) {
        org.apache.kafka.clients.admin.TopicDescription description;
        try {
          description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        } catch (java.util.concurrent.ExecutionException e) {
          description = null; // not in the metadata yet
        }
        if (description != null
            && description.partitions().size() == partitions
            && description.partitions().stream()
                .allMatch(p -> p.leader() != null && !p.leader().isEmpty())
            && logsReady(admin, topic, partitions)) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("no leaders for " + topic + ": " + description);
        }
        Thread.sleep(20); // polling the broker's state, not ordering events
      }
    }
  }

  /** Whether the leader hosts every partition's log (a list-offsets request succeeds). */
  private static boolean logsReady(Admin admin, String topic, int partitions)
      throws InterruptedException {
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    for (int p = 0; p < partitions; p++) {
      request.put(new TopicPartition(topic, p), OffsetSpec.latest());
    }
    try {
      admin.listOffsets(request).all().get();
      return true;
    } catch (java.util.concurrent.ExecutionException e) {
      return false;
    }
  }

  /**
   * Produces {@code count} records, keyed by {@code key(i)}, values {@code "v<i>"}. The producer is
   * not idempotent (the in-process broker sometimes answers a fresh idempotent producer with
   * OUT_OF_ORDER_SEQUENCE_NUMBER forever), so a retry may duplicate a record.
   *
   * @return how many records the topic holds now (the sum of its end offsets)
   */
  static long produce(Broker broker, String topic, int count, IntFunction<String> key)
      throws Exception {
    Map<String, Object> config = new HashMap<>();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
    config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    config.put(ProducerConfig.BATCH_SIZE_CONFIG, 128 * 1024);
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    try (var producer =
        new KafkaProducer<>(config, new StringSerializer(), new StringSerializer())) {
      for (int i = 0; i < count; i++) {
        producer.send(new ProducerRecord<>(topic, key.apply(i), "v" + i));
      }
      producer.flush();
    }
    int partitions;
    try (Admin admin = broker.admin()) {
      partitions =
          admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
    }
    return endOffsets(broker, topic, partitions).values().stream().mapToLong(Long::longValue).sum();
  }

  static KafkaProducer<String, String> producer(Broker broker) {
    Map<String, Object> config = new HashMap<>();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
    return new KafkaProducer<>(config, new StringSerializer(), new StringSerializer());
  }

  /** Consumer settings for a group; {@code protocol} is "classic" or "consumer". */
  static Map<String, Object> consumerConfig(String bootstrap, String group, String protocol) {
    Map<String, Object> config = new HashMap<>();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    config.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 20_000);
    config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10_000);
    if (protocol.equals("classic")) {
      config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 6_000);
      config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 250);
    }
    return config;
  }

  static KafkaCollector<String, String> open(
      Map<String, Object> config,
      KafkaCollectorOptions options,
      Committer.CommitObserver observer) {
    return KafkaCollector.open(
        config, new StringDeserializer(), new StringDeserializer(), options, observer);
  }

  static Map<TopicPartition, Long> committed(Broker broker, String group) throws Exception {
    try (Admin admin = broker.admin()) {
      Map<TopicPartition, OffsetAndMetadata> offsets =
          admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, Long> plain = new HashMap<>();
      offsets.forEach(
          (tp, o) -> {
            if (o != null) {
              plain.put(tp, o.offset());
            }
          });
      return plain;
    }
  }

  static Map<TopicPartition, Long> endOffsets(Broker broker, String topic, int partitions)
      throws Exception {
    try (Admin admin = broker.admin()) {
      Map<TopicPartition, OffsetSpec> request = new HashMap<>();
      for (int p = 0; p < partitions; p++) {
        request.put(new TopicPartition(topic, p), OffsetSpec.latest());
      }
      Map<TopicPartition, Long> ends = new HashMap<>();
      admin.listOffsets(request).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
      return ends;
    }
  }

  static long seed() {
    return Long.getLong("collector.seed", System.nanoTime());
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static Duration seconds(long s) {
    return Duration.ofSeconds(s);
  }

  /**
   * Which offsets of each partition were handled (returned from a handler), and a check that a
   * commit covers only those: the oracle of G1 per partition.
   */
  static final class Ledger {
    private final Map<TopicPartition, BitSet> handled = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> highestCommit = new ConcurrentHashMap<>();
    final List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicInteger distinct = new AtomicInteger();

    /** Marks an offset handled; returns {@code true} the first time. */
    boolean handled(TopicPartition tp, long offset) {
      BitSet set = handled.computeIfAbsent(tp, k -> new BitSet());
      synchronized (set) {
        if (set.get((int) offset)) {
          return false;
        }
        set.set((int) offset);
      }
      distinct.incrementAndGet();
      return true;
    }

    int distinct() {
      return distinct.get();
    }

    /** The commit observer: every committed offset covers handled records only, never regresses. */
    void committed(String collector, Map<TopicPartition, Long> offsets) {
      offsets.forEach(
          (tp, offset) -> {
            BitSet set = handled.computeIfAbsent(tp, k -> new BitSet());
            int firstGap;
            synchronized (set) {
              firstGap = set.nextClearBit(0);
            }
            if (firstGap < offset) {
              violations.add(
                  collector
                      + " committed "
                      + tp
                      + " at "
                      + offset
                      + " but offset "
                      + firstGap
                      + " was never handled");
            }
            Long[] before = new Long[1];
            highestCommit.compute(
                tp,
                (k, v) -> {
                  before[0] = v;
                  return v == null ? offset : Math.max(v, offset);
                });
            if (before[0] != null && before[0] > offset) {
              violations.add(
                  collector
                      + " committed "
                      + tp
                      + " at "
                      + offset
                      + " below the group's earlier commit "
                      + before[0]
                      + " (a stale owner committed)");
            }
          });
    }

    long handledCount(TopicPartition tp) {
      BitSet set = handled.getOrDefault(tp, new BitSet());
      synchronized (set) {
        return set.cardinality();
      }
    }
  }
}
