package dev.collector.kafka;

import dev.collector.Batch;
import dev.collector.DeadLetterHandler;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * A {@link DeadLetterHandler} that writes failed records to a Kafka topic: each record's original
 * key, value and headers, plus headers naming where it came from and why it failed.
 *
 * {@snippet :
 * FailurePolicy.retry(Retry.of(3, Duration.ofMillis(50), Duration.ofSeconds(1)))
 *     .thenDeadLetter(DeadLetterTopic.to(producer, "orders.dlt", Duration.ofSeconds(10)));
 * }
 *
 * <p>The producer needs serializers that fit the collector's deserializers (consume with byte array
 * deserializers and produce with byte array serializers to forward the original bytes unchanged).
 * The handler returns only once the broker acknowledged every record of the batch, so the source
 * offset is committed only after the dead letter is durable; if sending fails or times out, the
 * batch fails the run (fail-fast) and is delivered again by the next run. {@code sendTimeout}
 * bounds the whole send, including the time {@code producer.send()} itself blocks for metadata (a
 * missing dead-letter topic) or buffer space, which the producer would otherwise wait for up to its
 * {@code max.block.ms}: the records are handed to the producer on a virtual thread of their own
 * that is interrupted when {@code sendTimeout} passes.
 */
public final class DeadLetterTopic {

  /** Header: the topic the record was consumed from. */
  public static final String SOURCE_TOPIC = "collector.source.topic";

  /** Header: its partition, in decimal. */
  public static final String SOURCE_PARTITION = "collector.source.partition";

  /** Header: its offset, in decimal. */
  public static final String SOURCE_OFFSET = "collector.source.offset";

  /** Header: the class name of the last attempt's exception. */
  public static final String EXCEPTION_CLASS = "collector.exception.class";

  /** Header: that exception's message (empty if it had none). */
  public static final String EXCEPTION_MESSAGE = "collector.exception.message";

  private DeadLetterTopic() {}

  /**
   * A dead-letter handler that sends to {@code topic}.
   *
   * @param producer the producer; the caller owns (and closes) it
   * @param topic the dead-letter topic
   * @param sendTimeout how long to wait for the broker's acknowledgement of a batch
   * @param <K> the key type
   * @param <V> the value type
   * @return the handler
   */
  public static <K, V> DeadLetterHandler to(
      Producer<K, V> producer, String topic, Duration sendTimeout) {
    Objects.requireNonNull(producer, "producer");
    Objects.requireNonNull(topic, "topic");
    Objects.requireNonNull(sendTimeout, "sendTimeout");
    return (batch, lastFailure) -> {
      long deadline = System.nanoTime() + sendTimeout.toNanos();
      // producer.send() itself may block (metadata of a missing topic, a full buffer) for the
      // producer's max.block.ms; sendTimeout bounds the whole send, so send on a thread of its
      // own, wait at most sendTimeout for it, and interrupt it (which ends Kafka's wait) after.
      FutureTask<List<Future<RecordMetadata>>> sending =
          new FutureTask<>(
              () -> {
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (Object record : batch.records()) {
                  sent.add(producer.send(deadLetter(cast(record), topic, lastFailure)));
                }
                return sent;
              });
      Thread sender = Thread.ofVirtual().name("dead-letter-send-" + topic).start(sending);
      try {
        for (Future<RecordMetadata> future : await(sending, deadline, batch, topic, sendTimeout)) {
          await(future, deadline, batch, topic, sendTimeout);
        }
      } finally {
        if (sender.isAlive()) {
          sender.interrupt();
          sender.join(sendTimeout.toMillis() + 1); // no thread of ours outlives the call long
        }
      }
    };
  }

  private static <T> T await(
      Future<T> future, long deadline, Batch<?> batch, String topic, Duration sendTimeout)
      throws InterruptedException {
    try {
      return future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(
          "could not write batch "
              + batch.sequence()
              + " to dead-letter topic '"
              + topic
              + "': "
              + e.getCause(),
          e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "could not write batch "
              + batch.sequence()
              + " to dead-letter topic '"
              + topic
              + "' within "
              + sendTimeout
              + " (sendTimeout);"
              + " does the topic exist and is the broker reachable?",
          e);
    }
  }

  @SuppressWarnings("unchecked") // the collector's records are ConsumerRecord<K, V>
  private static <K, V> ConsumerRecord<K, V> cast(Object record) {
    return (ConsumerRecord<K, V>) record;
  }

  static <K, V> ProducerRecord<K, V> deadLetter(
      ConsumerRecord<K, V> record, String topic, Throwable failure) {
    RecordHeaders headers = new RecordHeaders();
    for (Header header : record.headers()) {
      headers.add(header);
    }
    headers.add(SOURCE_TOPIC, utf8(record.topic()));
    headers.add(SOURCE_PARTITION, utf8(Integer.toString(record.partition())));
    headers.add(SOURCE_OFFSET, utf8(Long.toString(record.offset())));
    headers.add(EXCEPTION_CLASS, utf8(failure.getClass().getName()));
    String message = failure.getMessage();
    headers.add(EXCEPTION_MESSAGE, utf8(message == null ? "" : message));
    return new ProducerRecord<>(topic, null, record.key(), record.value(), headers);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
