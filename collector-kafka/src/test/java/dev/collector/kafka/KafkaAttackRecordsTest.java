package dev.collector.kafka;

import static dev.collector.kafka.KafkaAttackKit.committed;
import static dev.collector.kafka.KafkaAttackKit.config;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchFailedException;
import dev.collector.CollectorException;
import dev.collector.FailurePolicy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Attacks on record mode's orderings, poison pills and the dead-letter topic. */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KafkaAttackRecordsTest {

  /** Per lane: records running at once (must stay at 1) and the order they started in. */
  private static final class Lanes<K> {
    final Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
    final Map<String, List<Long>> order = new ConcurrentHashMap<>();
    final List<String> violations = new CopyOnWriteArrayList<>();
    final AtomicInteger done = new AtomicInteger();
    final Function<ConsumerRecord<K, String>, String> lane;

    Lanes(Function<ConsumerRecord<K, String>, String> lane) {
      this.lane = lane;
    }

    void handle(ConsumerRecord<K, String> r) {
      String l = lane.apply(r);
      int now = running.computeIfAbsent(l, k -> new AtomicInteger()).incrementAndGet();
      if (now > 1) {
        violations.add(now + " records of lane " + l + " at once, at offset " + r.offset());
      }
      List<Long> seen = order.computeIfAbsent(l, k -> new CopyOnWriteArrayList<>());
      if (!seen.isEmpty() && seen.get(seen.size() - 1) > r.offset()) {
        violations.add("lane " + l + ": offset " + r.offset() + " after " + seen);
      }
      seen.add(r.offset());
      LockSupport.parkNanos(200_000); // a little work, so that lanes overlap
      running.get(l).decrementAndGet();
      done.incrementAndGet();
    }
  }

  private static <K> void runLanes(
      KafkaCollector<K, String> c, Ordering ordering, Lanes<K> lanes, int total) throws Exception {
    var run =
        new KafkaAttackKit.Bg<>("run", () -> c.processRecords(total, 16, ordering, lanes::handle));
    await().atMost(Duration.ofSeconds(40)).until(() -> run.done() || lanes.done.get() >= total);
    assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
    assertTrue(c.stop());
    run.value(30);
    assertEquals(List.of(), lanes.violations);
  }

  @Test
  void keyOrdering_nullKeys_oneLanePerPartition_inOffsetOrder(Broker broker) throws Exception {
    String topic = Kit.unique("null-keys");
    Kit.createTopic(broker, topic, 2);
    Kit.produce(broker, topic, 300, i -> null);
    var lanes = new Lanes<String>(r -> "partition-" + r.partition());
    var opts = KafkaCollectorOptions.builder().name("nk").topics(topic).build();
    try (var c = KafkaAttackKit.open(config(broker), opts)) {
      runLanes(c, Ordering.KEY, lanes, 300);
    }
  }

  @Test
  void keyOrdering_byteArrayKeys_comparedByContent(Broker broker) throws Exception {
    String topic = Kit.unique("byte-keys");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 300, i -> "key" + (i % 3));
    var lanes = new Lanes<byte[]>(r -> new String(r.key(), StandardCharsets.UTF_8));
    var opts = KafkaCollectorOptions.builder().name("bk").topics(topic).build();
    try (var c =
        KafkaCollector.open(
            config(broker), new ByteArrayDeserializer(), new StringDeserializer(), opts)) {
      runLanes(c, Ordering.KEY, lanes, 300);
    }
    assertEquals(3, lanes.order.size());
  }

  @Test
  void partitionOrdering_onePerPartition_inOffsetOrder(Broker broker) throws Exception {
    String topic = Kit.unique("part-order");
    Kit.createTopic(broker, topic, 3);
    Kit.produce(broker, topic, 300, i -> "k" + i);
    var lanes = new Lanes<String>(r -> "partition-" + r.partition());
    var opts = KafkaCollectorOptions.builder().name("po").topics(topic).build();
    try (var c = KafkaAttackKit.open(config(broker), opts)) {
      runLanes(c, Ordering.PARTITION, lanes, 300);
    }
  }

  /**
   * A value the deserializer cannot read (poison pill). Docs are silent; at least G1 holds (the
   * offset never moves past the unread record) and the run does not hang or skip it silently.
   */
  @Test
  void poisonPill_deserializerThrows_runFailsInBoundedTime_offsetNotPassed(Broker broker)
      throws Exception {
    String topic = Kit.unique("poison");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 20, i -> "k" + i);
    Deserializer<String> poison =
        (t, data) -> {
          String s = new String(data, StandardCharsets.UTF_8);
          if (s.equals("v7")) {
            throw new SerializationException("poison pill v7");
          }
          return s;
        };
    var config = config(broker);
    var handled = new CopyOnWriteArrayList<Long>();
    var opts = KafkaCollectorOptions.builder().name("poison").topics(topic).build();
    try (var c = KafkaCollector.open(config, new StringDeserializer(), poison, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () -> c.processRecords(16, 1, Ordering.PARTITION, r -> handled.add(r.offset())));
      Throwable failure = run.failure(45);
      long committed = committed(broker, config, topic, 0);
      System.out.println(
          "poison pill -> " + failure + "; handled " + handled + "; committed " + committed);
      assertTrue(committed <= 7, "the offset moved past the unreadable record: " + committed);
      assertFalse(handled.contains(7L));
      assertInstanceOf(
          CollectorException.class,
          failure,
          "a run ends with a summary, InterruptedException or a CollectorException");
    }
  }

  /** kafka.md: the dead letter carries the original key, value and headers, nulls included. */
  @Test
  void deadLetterTopic_nullKeyNullValueAndHeaders_forwardedWithSourceHeaders(Broker broker)
      throws Exception {
    String topic = Kit.unique("dl-src");
    String dlt = Kit.unique("dl-dst");
    Kit.createTopic(broker, topic, 1);
    Kit.createTopic(broker, dlt, 1);
    try (var p = Kit.producer(broker)) {
      var h0 = new RecordHeaders();
      h0.add("h", "x".getBytes(StandardCharsets.UTF_8));
      h0.add("h", "second".getBytes(StandardCharsets.UTF_8)); // repeated header
      p.send(new ProducerRecord<String, String>(topic, 0, (String) null, "v0", h0)).get();
      p.send(new ProducerRecord<String, String>(topic, 0, "k1", (String) null, new RecordHeaders()))
          .get();
      p.send(
              new ProducerRecord<String, String>(
                  topic, 0, (String) null, (String) null, new RecordHeaders()))
          .get();
    }
    var config = config(broker);
    try (var dlProducer = Kit.producer(broker)) {
      var opts =
          KafkaCollectorOptions.builder()
              .name("dl")
              .topics(topic)
              .failurePolicy(
                  FailurePolicy.failFast()
                      .thenDeadLetter(DeadLetterTopic.to(dlProducer, dlt, Duration.ofSeconds(10))))
              .build();
      try (var c = KafkaAttackKit.open(config, opts)) {
        var run =
            new KafkaAttackKit.Bg<>(
                "run",
                () ->
                    c.processRecords(
                        8,
                        1,
                        Ordering.PARTITION,
                        r -> {
                          throw new IllegalStateException("always");
                        }));
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> run.done() || committed(broker, config, topic, 0) == 3);
        assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
        c.stop();
        assertEquals(3, run.value(30).deadLettered());
      }
    }
    List<ConsumerRecord<String, String>> letters = readAll(broker, dlt, 3);
    assertNull(letters.get(0).key());
    assertEquals("v0", letters.get(0).value());
    assertEquals(List.of("x", "second"), values(letters.get(0), "h"));
    assertEquals("k1", letters.get(1).key());
    assertNull(letters.get(1).value());
    assertNull(letters.get(2).key());
    assertNull(letters.get(2).value());
    for (int i = 0; i < 3; i++) {
      var l = letters.get(i);
      assertEquals(List.of(topic), values(l, DeadLetterTopic.SOURCE_TOPIC));
      assertEquals(List.of("0"), values(l, DeadLetterTopic.SOURCE_PARTITION));
      assertEquals(List.of(Integer.toString(i)), values(l, DeadLetterTopic.SOURCE_OFFSET));
      assertEquals(
          List.of(IllegalStateException.class.getName()),
          values(l, DeadLetterTopic.EXCEPTION_CLASS));
      assertEquals(List.of("always"), values(l, DeadLetterTopic.EXCEPTION_MESSAGE));
    }
  }

  /**
   * DeadLetterTopic: "if sending fails or times out, the batch fails the run". A dead-letter topic
   * that does not exist must fail the run about sendTimeout later, not the producer's max.block.ms
   * (60 s) later.
   */
  @Test
  void deadLetterTopicMissing_failsRunWithinSendTimeout(Broker broker) throws Exception {
    String topic = Kit.unique("dl-missing-src");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 5, i -> "k" + i);
    var config = config(broker);
    try (var dlProducer = Kit.producer(broker)) {
      var opts =
          KafkaCollectorOptions.builder()
              .name("dlm")
              .topics(topic)
              .failurePolicy(
                  FailurePolicy.failFast()
                      .thenDeadLetter(
                          DeadLetterTopic.to(
                              dlProducer, Kit.unique("no-such-dlt"), Duration.ofSeconds(2))))
              .build();
      try (var c = KafkaAttackKit.open(config, opts)) {
        long start = System.nanoTime();
        var run =
            new KafkaAttackKit.Bg<>(
                "run",
                () ->
                    c.processRecords(
                        8,
                        1,
                        Ordering.PARTITION,
                        r -> {
                          throw new IllegalStateException("handler failed");
                        }));
        Throwable failure = run.failure(70);
        long ms = (System.nanoTime() - start) / 1_000_000;
        var e = assertInstanceOf(BatchFailedException.class, failure);
        assertEquals(0, e.sequence());
        assertTrue(ms < 20_000, "the run failed only after " + ms + " ms (sendTimeout 2 s)");
      }
    }
    assertTrue(committed(broker, config, topic, 0) <= 0);
  }

  /**
   * G7: a dead-letter handler that throws fails the run, its exception the cause, the handler's
   * failure attached as suppressed.
   */
  @Test
  void deadLetterProducerClosed_failsRun_causeAndSuppressedAsDocumented(Broker broker)
      throws Exception {
    String topic = Kit.unique("dl-closed-src");
    String dlt = Kit.unique("dl-closed-dst");
    Kit.createTopic(broker, topic, 1);
    Kit.createTopic(broker, dlt, 1);
    Kit.produce(broker, topic, 5, i -> "k" + i);
    var config = config(broker);
    var dlProducer = Kit.producer(broker);
    dlProducer.close();
    var handlerFailure = new IllegalStateException("handler failed");
    var opts =
        KafkaCollectorOptions.builder()
            .name("dlc")
            .topics(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter(DeadLetterTopic.to(dlProducer, dlt, Duration.ofSeconds(2))))
            .build();
    try (var c = KafkaAttackKit.open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        throw handlerFailure;
                      }));
      var e = assertInstanceOf(BatchFailedException.class, run.failure(30));
      assertEquals(0, e.sequence());
      assertNotNull(e.getCause());
      assertTrue(e.getCause() != handlerFailure, "cause should be the dead-letter failure");
      assertTrue(
          Arrays.asList(e.getSuppressed()).contains(handlerFailure)
              || Arrays.asList(e.getCause().getSuppressed()).contains(handlerFailure),
          "handler failure not attached as suppressed: " + e);
    }
    assertTrue(committed(broker, config, topic, 0) <= 0);
  }

  /** kafka.md: a batch always takes at least one record; sequence and resumeToken format. */
  @Test
  void batchMode_maxBatchBytesOne_oneRecordPerBatch_sequenceAndToken(Broker broker)
      throws Exception {
    String topic = Kit.unique("tiny-batches");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 20, i -> "k" + i);
    var shapes = new CopyOnWriteArrayList<String>();
    var opts = KafkaCollectorOptions.builder().name("tiny").topics(topic).maxBatch(500, 1).build();
    try (var c = KafkaAttackKit.open(config(broker), opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.process(
                      8,
                      b -> {
                        long first = b.records().get(0).offset();
                        shapes.add(
                            b.size()
                                + ":"
                                + (b.sequence() == first)
                                + ":"
                                + b.resumeToken().equals(topic + "-0@" + (first + 1)));
                      }));
      await().atMost(Duration.ofSeconds(30)).until(() -> run.done() || shapes.size() >= 20);
      assertFalse(run.done(), () -> "run ended: " + KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      assertEquals(20, run.value(30).batches());
    }
    assertEquals(java.util.Collections.nCopies(20, "1:true:true"), shapes);
  }

  private static List<String> values(ConsumerRecord<?, ?> record, String header) {
    List<String> out = new ArrayList<>();
    for (Header h : record.headers().headers(header)) {
      out.add(new String(h.value(), StandardCharsets.UTF_8));
    }
    return out;
  }

  private static List<ConsumerRecord<String, String>> readAll(
      Broker broker, String topic, int count) {
    Map<String, Object> config = new HashMap<>();
    config.put("bootstrap.servers", broker.bootstrap());
    config.put("auto.offset.reset", "earliest");
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (var consumer =
        new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer())) {
      consumer.assign(List.of(new TopicPartition(topic, 0)));
      consumer.seekToBeginning(List.of(new TopicPartition(topic, 0)));
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (out.size() < count && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    assertEquals(count, out.size(), "dead letters read: " + out);
    return out;
  }
}
