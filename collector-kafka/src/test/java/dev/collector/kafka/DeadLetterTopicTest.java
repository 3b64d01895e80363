package dev.collector.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * G7 with Kafka: a poison record is retried, then written to the dead-letter topic with its key,
 * value and headers and headers naming where it came from and why it failed; the run goes on and
 * commits past it.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DeadLetterTopicTest {

  @Test
  void poisonRecord_retriedThenDeadLettered_runGoesOn(Broker broker) throws Exception {
    String topic = Kit.unique("dlq-source");
    String dlt = Kit.unique("dlq-target");
    Kit.createTopic(broker, topic, 2);
    Kit.createTopic(broker, dlt, 1);
    try (var producer = Kit.producer(broker)) {
      for (int i = 0; i < 200; i++) {
        var record = new ProducerRecord<>(topic, 0, "k" + i, i == 42 ? "poison" : "v" + i);
        if (i == 42) {
          record.headers().add("trace", "t-42".getBytes(StandardCharsets.UTF_8));
        }
        producer.send(record).get();
      }
      String group = Kit.unique("g");
      var ledger = new Kit.Ledger();
      AtomicInteger poisonAttempts = new AtomicInteger();
      var handledAll = new CountDownLatch(199);
      var options =
          KafkaCollectorOptions.builder()
              .name("dlq")
              .topics(topic)
              .failurePolicy(
                  FailurePolicy.retry(Retry.of(3, Duration.ofMillis(1), Duration.ofMillis(10)))
                      .thenDeadLetter(DeadLetterTopic.to(producer, dlt, Duration.ofSeconds(10))))
              .build();
      ProcessSummary summary;
      try (var collector =
          Kit.open(
              Kit.consumerConfig(broker.bootstrap(), group, "classic"),
              options,
              ledger::committed)) {
        Thread.ofVirtual().start(() -> OrderedCommitTest.awaitThenStop(handledAll, collector));
        summary =
            collector.processRecords(
                64,
                8,
                Ordering.KEY,
                r -> {
                  if (r.value().equals("poison")) {
                    poisonAttempts.incrementAndGet();
                    throw new IllegalArgumentException("cannot parse " + r.value());
                  }
                  ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                  handledAll.countDown();
                });
      }
      assertEquals(3, poisonAttempts.get());
      assertEquals(1, summary.deadLettered());
      assertEquals(
          Map.of(new TopicPartition(topic, 0), 200L),
          Kit.committed(broker, group),
          "the run committed past the dead-lettered record");

      List<ConsumerRecord<String, String>> dead = readAll(broker, dlt, 1);
      assertEquals(1, dead.size());
      ConsumerRecord<String, String> d = dead.get(0);
      assertEquals("k42", d.key());
      assertEquals("poison", d.value());
      Map<String, String> headers = new HashMap<>();
      for (Header h : d.headers()) {
        headers.put(h.key(), new String(h.value(), StandardCharsets.UTF_8));
      }
      assertEquals("t-42", headers.get("trace"));
      assertEquals(topic, headers.get(DeadLetterTopic.SOURCE_TOPIC));
      assertEquals("0", headers.get(DeadLetterTopic.SOURCE_PARTITION));
      assertEquals("42", headers.get(DeadLetterTopic.SOURCE_OFFSET));
      assertEquals(
          IllegalArgumentException.class.getName(), headers.get(DeadLetterTopic.EXCEPTION_CLASS));
      assertTrue(headers.get(DeadLetterTopic.EXCEPTION_MESSAGE).contains("cannot parse poison"));
    }
  }

  static List<ConsumerRecord<String, String>> readAll(Broker broker, String topic, int expected) {
    Map<String, Object> config = new HashMap<>();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (var consumer =
        new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer())) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (out.size() < expected && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(100)).forEach(out::add);
      }
    }
    return out;
  }
}
