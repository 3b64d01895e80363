package dev.collector.kafka;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jspecify.annotations.Nullable;

/**
 * Helpers of the attack tests (KafkaAttack*Test): they use the public API only ({@link
 * KafkaCollector#open} without a commit observer), topics and offsets through {@link Kit}.
 */
final class KafkaAttackKit {

  private KafkaAttackKit() {}

  /** A new topic with {@code records} records keyed "k&lt;i&gt;". */
  static String topic(Broker broker, String prefix, int partitions, int records) throws Exception {
    String topic = Kit.unique(prefix);
    Kit.createTopic(broker, topic, partitions);
    if (records > 0) {
      Kit.produce(broker, topic, records, i -> "k" + i);
    }
    return topic;
  }

  /** Classic-protocol consumer settings for a new group. */
  static Map<String, Object> config(Broker broker) {
    return Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic");
  }

  static String group(Map<String, Object> config) {
    return (String) config.get(ConsumerConfig.GROUP_ID_CONFIG);
  }

  static KafkaCollector<String, String> open(
      Map<String, Object> config, KafkaCollectorOptions options) {
    return KafkaCollector.open(config, new StringDeserializer(), new StringDeserializer(), options);
  }

  /** The group's committed offset of one partition, -1 if none. */
  static long committed(Broker broker, Map<String, Object> config, String topic, int partition)
      throws Exception {
    return Kit.committed(broker, group(config))
        .getOrDefault(new TopicPartition(topic, partition), -1L);
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** A call on a platform thread of its own, to interrupt it and see how it ended. */
  static final class Bg<T> {
    final CompletableFuture<T> result = new CompletableFuture<>();
    volatile boolean interruptedAtEnd;
    final Thread thread;

    Bg(String name, Callable<T> call) {
      thread =
          Thread.ofPlatform()
              .daemon(true)
              .name("attack-" + name)
              .start(
                  () -> {
                    try {
                      T value = call.call();
                      interruptedAtEnd = Thread.currentThread().isInterrupted();
                      result.complete(value);
                    } catch (Throwable t) {
                      interruptedAtEnd = Thread.currentThread().isInterrupted();
                      result.completeExceptionally(t);
                    }
                  });
    }

    /** The call's failure, or {@code null} if it returned; fails if it is still running. */
    @Nullable Throwable failure(long seconds) throws InterruptedException {
      try {
        result.get(seconds, TimeUnit.SECONDS);
        return null;
      } catch (ExecutionException e) {
        return e.getCause();
      } catch (TimeoutException e) {
        throw new AssertionError(
            "'"
                + thread.getName()
                + "' still running after "
                + seconds
                + " s; stack: "
                + stack(thread));
      }
    }

    T value(long seconds) throws Exception {
      Throwable failure = failure(seconds);
      if (failure != null) {
        throw new AssertionError("'" + thread.getName() + "' threw " + failure, failure);
      }
      return result.getNow(null);
    }

    boolean done() {
      return result.isDone();
    }
  }

  /** How a finished call ended, for assertion messages. */
  static String describe(Bg<?> bg) {
    if (!bg.done()) {
      return "still running";
    }
    try {
      return "returned " + bg.result.getNow(null);
    } catch (java.util.concurrent.CompletionException e) {
      return "threw " + e.getCause();
    }
  }

  static String stack(Thread thread) {
    StringBuilder s = new StringBuilder();
    for (StackTraceElement e : thread.getStackTrace()) {
      s.append("\n  at ").append(e);
    }
    return s.toString();
  }

  /** Waits for a latch, interrupts ignored until {@code release} opens; counts the interrupts. */
  static void awaitIgnoringInterrupts(
      java.util.concurrent.CountDownLatch release,
      java.util.concurrent.CountDownLatch interrupted) {
    while (true) {
      try {
        release.await();
        return;
      } catch (InterruptedException e) {
        interrupted.countDown();
      }
    }
  }
}
