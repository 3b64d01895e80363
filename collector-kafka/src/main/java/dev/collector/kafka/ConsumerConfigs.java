package dev.collector.kafka;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Checks a collector's consumer configuration and creates its consumer ({@link
 * KafkaCollector#open}).
 */
final class ConsumerConfigs {

  /*
   * Invariant: a consumer is created only from a configuration that names a group and brokers,
   * never auto-commits (enable.auto.commit is forced to false, and `true` is refused: the collector
   * commits in order itself), and whose max.poll.interval.ms is above the revoke drain bound. Every
   * refusal, Kafka's own included, is an IllegalArgumentException naming the collector.
   */

  private ConsumerConfigs() {}

  /** The consumer of the collector {@code options} names; see {@link KafkaCollector#open}. */
  static <K, V> KafkaConsumer<K, V> consumer(
      Map<String, ?> consumerConfig,
      Deserializer<K> keys,
      Deserializer<V> values,
      KafkaCollectorOptions options) {
    Map<String, Object> config = new HashMap<>(consumerConfig);
    Object group = config.get(ConsumerConfig.GROUP_ID_CONFIG);
    if (group == null || group.toString().isBlank()) {
      throw new IllegalArgumentException(
          "collector '"
              + options.name()
              + "' needs "
              + ConsumerConfig.GROUP_ID_CONFIG
              + ": offsets are committed to a consumer group");
    }
    Object servers = config.get(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
    if (servers == null || servers.toString().isBlank()) {
      throw new IllegalArgumentException(
          "collector '"
              + options.name()
              + "' needs "
              + ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG
              + ": the brokers to connect to, e.g."
              + " \"kafka:9092\"");
    }
    Object autoCommit = config.get(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG);
    if (autoCommit != null && Boolean.parseBoolean(autoCommit.toString())) {
      throw new IllegalArgumentException(
          "collector '"
              + options.name()
              + "': "
              + ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG
              + "=true would commit records before"
              + " their handlers returned; remove it (the collector commits in order itself)");
    }
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    Object interval = config.get(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG);
    Duration maxPollInterval =
        Duration.ofMillis(interval == null ? 300_000 : Long.parseLong(interval.toString()));
    if (options.revokeDrainTimeout().compareTo(maxPollInterval) >= 0) {
      throw new IllegalArgumentException(
          "collector '"
              + options.name()
              + "': revokeDrainTimeout "
              + options.revokeDrainTimeout()
              + " must be below max.poll.interval.ms ("
              + maxPollInterval
              + "), or the group evicts the member while it drains");
    }
    try {
      return new KafkaConsumer<>(config, keys, values);
    } catch (KafkaException e) { // ConfigException and the like: Kafka's own, not ours to leak
      throw new IllegalArgumentException(
          "collector '"
              + options.name()
              + "': the consumer"
              + " configuration was refused: "
              + e.getMessage()
              + "; fix consumerConfig",
          e);
    }
  }
}
