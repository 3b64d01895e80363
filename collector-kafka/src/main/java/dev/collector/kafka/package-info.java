/**
 * Kafka for Collector: consume topics with per-partition ordered commits to the consumer group, a
 * hard bound on uncommitted work, rebalance fencing and a dead-letter topic. The entry point is
 * {@link dev.collector.kafka.KafkaCollector}.
 */
@NullMarked
package dev.collector.kafka;

import org.jspecify.annotations.NullMarked;
