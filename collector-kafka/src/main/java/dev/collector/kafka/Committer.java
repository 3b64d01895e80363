package dev.collector.kafka;

import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.Retry;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;

/** Commits handled prefixes to the consumer group, on the poll thread only. */
final class Committer {

  /*
   * Invariant: an offset reaches the group only from a CommitPoint of a live (unfenced) track,
   * and the window learns of a commit only after commitSync returned, so `committed` in the
   * window (and the summary) is always durable in the group. A commit the group refuses because
   * the member is being rebalanced (CommitFailedException, RebalanceInProgressException) is not
   * an error: the partitions are about to be revoked (the revoke callback commits again) or were
   * lost (nothing may be committed). Retriable errors are retried with backoff, then the run
   * fails with CheckpointException naming the offsets known to be durable.
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  private final String name;
  private final Consumer<?, ?> consumer;
  private final Window window;
  private final Retry retry;
  private final Duration timeout;
  private final CommitObserver observer;

  /** Read by awaitCommitted() on caller threads while the poll thread writes: concurrent. */
  private final Map<TopicPartition, Long> durable =
      new ConcurrentSkipListMap<>(
          (a, b) ->
              a.topic().equals(b.topic())
                  ? Integer.compare(a.partition(), b.partition())
                  : a.topic().compareTo(b.topic()));

  private long commits;

  Committer(
      String name,
      Consumer<?, ?> consumer,
      Window window,
      Retry retry,
      Duration timeout,
      CommitObserver observer) {
    this.name = name;
    this.consumer = consumer;
    this.window = window;
    this.retry = retry;
    this.timeout = timeout;
    this.observer = observer;
  }

  /**
   * Commits the given points.
   *
   * @return {@code true} if they are durable, {@code false} if the group refused them because of a
   *     rebalance
   * @throws CheckpointException if the commit failed after the retries
   */
  boolean commit(List<Window.CommitPoint> points) throws InterruptedException {
    if (points.isEmpty()) {
      return true;
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    Map<TopicPartition, Long> plain = new HashMap<>();
    for (Window.CommitPoint point : points) {
      offsets.put(point.track().partition, new OffsetAndMetadata(point.offset()));
      plain.put(point.track().partition, point.offset());
    }
    for (int attempt = 1; ; attempt++) {
      try {
        consumer.commitSync(offsets, timeout);
        break;
      } catch (CommitFailedException | RebalanceInProgressException e) {
        LOG.log(
            Level.DEBUG,
            "{0}: commit of {1} refused during a rebalance: {2}",
            name,
            plain,
            e.toString());
        return false;
      } catch (InterruptException e) {
        Thread.interrupted(); // Kafka's unchecked twin; the status is ours to report
        throw new InterruptedException("interrupted while committing " + plain);
      } catch (RetriableException e) {
        if (attempt >= retry.maxAttempts()) {
          throw failure(plain, attempt, e);
        }
        LOG.log(
            Level.WARNING,
            "{0}: commit of {1} failed (attempt {2} of {3}), retrying: {4}",
            name,
            plain,
            attempt,
            retry.maxAttempts(),
            e.toString());
        Thread.sleep(retry.delay(attempt, ThreadLocalRandom.current()));
      } catch (KafkaException e) {
        throw failure(plain, attempt, e);
      }
    }
    durable.putAll(plain); // before the window wakes awaitCommitted(), which reads the token
    window.committed(points);
    commits++;
    observer.committed(name, Map.copyOf(plain));
    return true;
  }

  private CheckpointException failure(
      Map<TopicPartition, Long> offsets, int attempts, KafkaException e) {
    return new CheckpointException(
        "collector '"
            + name
            + "' could not commit offsets "
            + offsets
            + " after "
            + attempts
            + " attempt(s): "
            + e
            + "; durable: "
            + durableToken()
            + " (partitions not named there keep what the group had); a new run resumes there",
        checkpoint(),
        e);
  }

  long commits() {
    return commits;
  }

  /** The offsets this run committed, e.g. {@code orders-0=120,orders-1=98}. */
  String durableToken() {
    StringBuilder token = new StringBuilder();
    durable.forEach(
        (tp, offset) -> {
          if (!token.isEmpty()) {
            token.append(',');
          }
          token.append(tp).append('=').append(offset);
        });
    return token.toString();
  }

  Checkpoint checkpoint() {
    return new Checkpoint(window.totals().committed(), durableToken());
  }

  long durableOffset(TopicPartition partition) {
    return durable.getOrDefault(partition, -1L);
  }

  /** Sees every commit the group confirmed; a test hook, a no-op in production. */
  interface CommitObserver {
    CommitObserver NONE = (collector, offsets) -> {};

    void committed(String collector, Map<TopicPartition, Long> offsets);
  }
}
