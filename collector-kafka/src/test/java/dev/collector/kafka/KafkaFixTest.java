package dev.collector.kafka;

import static dev.collector.kafka.KafkaAttackKit.committed;
import static dev.collector.kafka.KafkaAttackKit.config;
import static dev.collector.kafka.KafkaAttackKit.open;
import static dev.collector.kafka.KafkaAttackKit.topic;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchFailedException;
import dev.collector.CollectorClosedException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.SourceException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The decisions of the kafka-fix branch (docs/kafka.md), one test each. */
@ExtendWith(SharedBroker.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KafkaFixTest {

  private static final Deserializer<String> POISON_AT_7 =
      (t, data) -> {
        String s = new String(data, StandardCharsets.UTF_8);
        if (s.equals("v7")) {
          throw new SerializationException("poison pill v7");
        }
        return s;
      };

  private static KafkaCollectorOptions.Builder options(String topic) {
    return KafkaCollectorOptions.builder().name("fix").topics(topic);
  }

  /** Poison pill, no dead letter: the prefix is handled and committed, SourceException names it. */
  @Test
  void poisonPill_noDeadLetter_prefixCommitted_sourceExceptionNamesPartitionAndOffset(Broker broker)
      throws Exception {
    for (boolean recordMode : new boolean[] {true, false}) {
      String topic = topic(broker, "poison-prefix", 1, 20);
      var config = config(broker);
      var handled = new CopyOnWriteArrayList<Long>();
      try (var c =
          KafkaCollector.open(
              config,
              new StringDeserializer(),
              POISON_AT_7,
              options(topic).maxBatch(3, 1 << 20).build())) {
        var run =
            new KafkaAttackKit.Bg<>(
                "run",
                () ->
                    recordMode
                        ? c.processRecords(16, 1, Ordering.PARTITION, r -> handled.add(r.offset()))
                        : c.process(4, b -> b.records().forEach(r -> handled.add(r.offset()))));
        var e = assertInstanceOf(SourceException.class, run.failure(45));
        assertEquals(7, e.sequence());
        assertTrue(
            e.getMessage().contains("offset 7")
                && e.getMessage().contains(topic)
                && e.getMessage().contains("partition 0")
                && e.getMessage().contains("dead-letter"),
            e.getMessage());
        assertInstanceOf(RecordDeserializationException.class, e.getCause().getCause());
      }
      assertEquals(
          LongStream.range(0, 7).boxed().toList(),
          handled.stream().sorted().toList(),
          "record mode " + recordMode); // batches of one partition may run concurrently
      assertEquals(7, committed(broker, config, topic, 0), "record mode " + recordMode);
    }
  }

  /** Poison pill with a dead letter: the handler gets the raw bytes, the run goes past it. */
  @Test
  void poisonPill_deadLetter_getsRawBytes_runGoesOnPastIt(Broker broker) throws Exception {
    String topic = topic(broker, "poison-dl", 1, 20);
    var config = config(broker);
    var handled = new CopyOnWriteArrayList<Long>();
    var letters = new CopyOnWriteArrayList<ConsumerRecord<?, ?>>();
    var causes = new CopyOnWriteArrayList<Throwable>();
    var opts =
        options(topic)
            .failurePolicy(
                FailurePolicy.failFast()
                    .thenDeadLetter(
                        (batch, cause) -> {
                          batch.records().forEach(r -> letters.add((ConsumerRecord<?, ?>) r));
                          causes.add(cause);
                        }))
            .build();
    try (var c = KafkaCollector.open(config, new StringDeserializer(), POISON_AT_7, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run", () -> c.processRecords(16, 2, Ordering.KEY, r -> handled.add(r.offset())));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> run.done() || committed(broker, config, topic, 0) == 20);
      assertFalse(run.done(), () -> KafkaAttackKit.describe(run));
      assertTrue(c.stop());
      ProcessSummary summary = run.value(30);
      assertEquals(1, summary.deadLettered());
    }
    assertFalse(handled.contains(7L), "the user's handler never sees the pill");
    assertEquals(19, handled.size());
    assertEquals(1, letters.size());
    assertEquals(7, letters.get(0).offset());
    assertEquals("v7", new String((byte[]) letters.get(0).value(), StandardCharsets.UTF_8));
    assertEquals("k7", new String((byte[]) letters.get(0).key(), StandardCharsets.UTF_8));
    assertInstanceOf(RecordDeserializationException.class, causes.get(0));
  }

  /** open() without bootstrap.servers: IllegalArgumentException naming the setting. */
  @Test
  void bootstrapServersMissing_illegalArgumentNamingIt(Broker broker) {
    Map<String, Object> config = config(broker);
    config.remove("bootstrap.servers");
    var e = assertThrows(IllegalArgumentException.class, () -> open(config, options("t").build()));
    assertTrue(e.getMessage().contains("bootstrap.servers"), e.getMessage());
  }

  /** A handler's Error is a handler failure: fail-fast, the prefix before it committed. */
  @Test
  void handlerError_isAHandlerFailure(Broker broker) throws Exception {
    String topic = topic(broker, "handler-error", 1, 10);
    var config = config(broker);
    var error = new AssertionError("an Error from the handler");
    try (var c = open(config, options(topic).build())) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.processRecords(
                      8,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 3) {
                          throw error;
                        }
                      }));
      var e = assertInstanceOf(BatchFailedException.class, run.failure(30));
      assertEquals(3, e.sequence());
      assertSame(error, e.getCause());
    }
    assertEquals(3, committed(broker, config, topic, 0));
  }

  /** A settle after close() throws CollectorClosedException, as Delivery's javadoc says. */
  @Test
  void settleAfterClose_throwsCollectorClosed(Broker broker) throws Exception {
    String topic = topic(broker, "settle-closed", 1, 50);
    var c = open(config(broker), options(topic).maxBatch(5, 1 << 20).build());
    var d1 = take(c);
    var d2 = take(c);
    c.close();
    assertThrows(CollectorClosedException.class, d1::ack);
    assertThrows(CollectorClosedException.class, () -> d2.fail(new IllegalStateException("x")));
    d1.close(); // never throws
    d2.close();
  }

  private static Delivery<ConsumerRecord<String, String>> take(KafkaCollector<String, String> c)
      throws InterruptedException {
    Delivery<ConsumerRecord<String, String>> d = null;
    while (d == null) {
      d = c.next(Duration.ofSeconds(1));
    }
    return d;
  }

  /** stop() during startup: a stopped summary, nothing done or committed. */
  @Test
  void stopDuringStartup_stoppedSummary_nothingCommitted() throws Exception {
    var config =
        Kit.consumerConfig("127.0.0.1:" + KafkaAttackKit.freePort(), Kit.unique("g"), "classic");
    try (var c = open(config, options("t").startupTimeout(Duration.ofSeconds(60)).build())) {
      var run = new KafkaAttackKit.Bg<>("run", () -> c.process(4, b -> {}));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.progress().capacity() > 0);
      assertTrue(c.stop());
      ProcessSummary summary = run.value(15);
      assertTrue(summary.stopped());
      assertEquals(0, summary.batches());
      assertEquals(0, summary.commits());
      assertEquals("", summary.checkpoint().resumeToken());
    }
  }

  /** A record waiting in a retry backoff counts as running: stop()'s drain waits for it. */
  @Test
  void stopDuringRetryBackoff_drainWaitsForTheRetry(Broker broker) throws Exception {
    String topic = topic(broker, "backoff-drain", 1, 1);
    var config = config(broker);
    var failedOnce = new CountDownLatch(1);
    var attempts = new CopyOnWriteArrayList<Integer>();
    var opts =
        options(topic)
            .drainTimeout(Duration.ofSeconds(30))
            .failurePolicy(
                FailurePolicy.retry(Retry.of(2, Duration.ofMillis(500), Duration.ofMillis(500))))
            .build();
    try (var c = open(config, opts)) {
      var run =
          new KafkaAttackKit.Bg<>(
              "run",
              () ->
                  c.process(
                      4,
                      b -> {
                        attempts.add(b.attempt());
                        if (b.attempt() == 1) {
                          failedOnce.countDown();
                          throw new IllegalStateException("first attempt");
                        }
                      }));
      assertTrue(failedOnce.await(30, TimeUnit.SECONDS));
      assertTrue(c.stop()); // the record is in its backoff now (or already retrying)
      ProcessSummary summary = run.value(30);
      assertTrue(summary.stopped());
      assertEquals(1, summary.batches(), summary.toString());
    }
    assertEquals(List.of(1, 2), attempts);
    assertEquals(1, committed(broker, config, topic, 0));
  }
}
