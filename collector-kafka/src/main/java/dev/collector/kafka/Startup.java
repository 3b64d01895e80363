package dev.collector.kafka;

import dev.collector.Checkpoint;
import dev.collector.SourceException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The metadata check before a run subscribes: every topic exists (or, for a pattern, a broker
 * answers), waiting at most {@link KafkaCollectorOptions#startupTimeout()}, and ending early when
 * the run is stopped or closed.
 */
final class Startup {

  /*
   * Invariant: no call into the consumer blocks longer than SLICE, so stop() and close() -- which
   * only set the run's stop flag -- are noticed within a slice; the flag is rechecked between
   * slices. Nothing of Kafka's own exceptions leaves this class: a broker that does not answer,
   * a missing or unusable topic become SourceException, Kafka's InterruptException becomes
   * InterruptedException with the thread's interrupt status set (never swallowed).
   */

  static final Duration SLICE = Duration.ofMillis(200);

  private Startup() {}

  /**
   * Waits until the topics are known.
   *
   * @return {@code true} if they are, {@code false} if the run was stopped (or closed) first
   * @throws SourceException if no broker answered in time, or a topic is missing or unusable
   * @throws InterruptedException if the calling thread was interrupted; its status stays set
   */
  static boolean await(
      String name,
      String bootstrap,
      Consumer<?, ?> consumer,
      KafkaCollectorOptions options,
      BooleanSupplier stopRequested)
      throws InterruptedException {
    long deadline = System.nanoTime() + options.startupTimeout().toNanos();
    Deque<String> pending = new ArrayDeque<>(options.topics());
    while (true) {
      if (Thread.currentThread().isInterrupted()) {
        throw interrupted(bootstrap);
      }
      if (stopRequested.getAsBoolean()) {
        return false;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new SourceException(
            name,
            0,
            Checkpoint.INITIAL,
            new TimeoutException(
                "no broker answered at "
                    + bootstrap
                    + " within "
                    + options.startupTimeout()
                    + " (startupTimeout); is it running and is bootstrap.servers right?"));
      }
      Duration slice = Duration.ofNanos(Math.min(left, SLICE.toNanos()));
      String topic = pending.peekFirst();
      try {
        if (options.pattern() != null) {
          consumer.listTopics(slice);
          return true;
        }
        if (topic == null) {
          return true;
        }
        List<PartitionInfo> partitions = consumer.partitionsFor(topic, slice);
        if (partitions == null || partitions.isEmpty()) {
          throw new SourceException(
              name,
              0,
              Checkpoint.INITIAL,
              new UnknownTopicOrPartitionException(
                  "topic '"
                      + topic
                      + "' does not exist on the brokers at "
                      + bootstrap
                      + "; create it first"));
        }
        pending.removeFirst();
      } catch (TimeoutException e) {
        // this slice passed without an answer: check stop() and the deadline, then ask again
      } catch (InterruptException e) {
        throw interrupted(bootstrap);
      } catch (KafkaException e) {
        throw new SourceException(
            name,
            0,
            Checkpoint.INITIAL,
            new KafkaException(
                (topic == null ? "the topic pattern " + options.pattern() : "topic '" + topic + "'")
                    + " cannot be read from the brokers at "
                    + bootstrap
                    + ": "
                    + e
                    + "; fix the topics in KafkaCollectorOptions (and the consumer's ACLs)",
                e));
      }
    }
  }

  private static InterruptedException interrupted(String bootstrap) {
    Thread.currentThread().interrupt(); // G5: the status stays set for the caller
    return new InterruptedException("interrupted while waiting for the brokers at " + bootstrap);
  }
}
