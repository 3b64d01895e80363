package dev.collector.kafka;

import dev.collector.BatchHandler;
import dev.collector.Checkpoint;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.Delivery;
import dev.collector.ProcessSummary;
import dev.collector.ReentrantCallException;
import dev.collector.StaleDeliveryException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.Deserializer;
import org.jspecify.annotations.Nullable;

/**
 * Consumes Kafka topics with bounded read-ahead, runs a handler per batch or per record on virtual
 * threads, and commits each partition's offset to the consumer group strictly in order.
 *
 * {@snippet :
 * var options = KafkaCollectorOptions.builder().name("orders").topics("orders").build();
 * try (var collector = KafkaCollector.open(consumerConfig, new StringDeserializer(),
 *     new StringDeserializer(), options)) {
 *   collector.process(64, batch -> sink.write(batch.records()));   // until stop()
 * }
 * }
 *
 * <p><b>Batch mode</b> ({@link #process}): a batch is records of one partition from one poll, at
 * most {@link KafkaCollectorOptions#maxBatchRecords()} records and {@link
 * KafkaCollectorOptions#maxBatchBytes()} bytes; {@code depth} counts batches. {@link
 * dev.collector.Batch#sequence()} is the offset of the batch's first record. <b>Record mode</b>
 * ({@link #processRecords}): a handler per record, {@code depth} counts records, an {@link
 * Ordering} says which may run together and {@code concurrency} bounds how many run.
 *
 * <p><b>Guarantees.</b> A partition's committed offset only moves forward, and only over records
 * whose handler returned (or that the failure policy dead-lettered). At most {@code depth} units
 * are fetched and uncommitted over all partitions of the collector; when the window is full the
 * partitions are paused and the consumer keeps polling, so the member stays in its group. On a
 * revoke, running handlers of the revoked partitions get {@link
 * KafkaCollectorOptions#revokeDrainTimeout()} to finish, their handled prefix is committed, and the
 * partitions are fenced: a completion that arrives later commits nothing. Lost partitions are
 * fenced without a commit. A run returns (or throws) after every handler thread ended and its final
 * commit is confirmed by the group.
 *
 * <p><b>The consumer.</b> One {@link KafkaConsumer} per collector, used only by the thread that
 * runs {@code process}; handlers never see it. {@code enable.auto.commit} is always off (setting it
 * to {@code true} is rejected): the collector commits. Runs end by leaving the group; a collector
 * can run again after a run returned.
 *
 * <p><b>Pull.</b> {@link #next(Duration)} hands out batches as {@link Delivery} handles from a
 * background poll thread, with {@link KafkaCollectorOptions#pullDepth()} batches of read-ahead;
 * settle each with {@code ack()} or {@code fail()}. A delivery whose partition was revoked (after
 * the drain bound) or lost, or whose session ended, is stale: settling it throws {@link
 * StaleDeliveryException} and commits nothing. In pull mode {@code fail()} goes straight to the
 * dead-letter handler if there is one, else it ends the session (retries are the caller's). This
 * class does not implement {@link dev.collector.Collector}: a Kafka run has no end of source
 * ({@code isExhausted}), its checkpoint and progress are per partition, and its epochs are
 * partition assignments within a run (docs/kafka.md, "Why KafkaCollector does not implement
 * Collector"). Metrics: {@link KafkaCollectorMetrics}.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class KafkaCollector<K, V> implements AutoCloseable {

  /*
   * Invariant: none of its own -- a facade. The one-run-at-a-time invariant, the lock and the
   * consumer's lifecycle are Runs'; the pull session is PullSessions' (sharing Runs' lock); the
   * consumer configuration's checks are ConsumerConfigs'. Public javadoc stays here.
   */

  private final KafkaCollectorOptions options;

  /** Events for the metrics binder ({@link KafkaCollectorMetrics}). */
  final KafkaTelemetry telemetry;

  private final Runs<K, V> runs;
  private final PullSessions<K, V> pulls;

  private KafkaCollector(
      String bootstrap,
      Consumer<K, V> consumer,
      KafkaCollectorOptions options,
      Committer.CommitObserver observer) {
    this.options = options;
    KafkaTelemetry t = new KafkaTelemetry(options.name());
    this.telemetry = t;
    Committer.CommitObserver counted =
        (name, offsets) -> {
          t.committed();
          observer.committed(name, offsets);
        };
    this.runs = new Runs<>(this, bootstrap, consumer, options, counted, t);
    this.pulls = new PullSessions<>(this, runs);
  }

  /**
   * Opens a collector with its own consumer. Nothing is contacted yet: a run checks the brokers and
   * the topics when it starts.
   *
   * @param consumerConfig the consumer's configuration; {@code bootstrap.servers} and {@code
   *     group.id} are required, {@code enable.auto.commit} is set to {@code false}
   * @param keys the key deserializer
   * @param values the value deserializer
   * @param options topics and behaviour
   * @param <K> the key type
   * @param <V> the value type
   * @return the collector
   * @throws IllegalArgumentException if {@code bootstrap.servers} or {@code group.id} is missing,
   *     {@code enable.auto.commit} is {@code true}, the revoke drain bound is not below {@code
   *     max.poll.interval.ms}, or Kafka refuses the configuration (the message says which)
   */
  public static <K, V> KafkaCollector<K, V> open(
      Map<String, ?> consumerConfig,
      Deserializer<K> keys,
      Deserializer<V> values,
      KafkaCollectorOptions options) {
    return open(consumerConfig, keys, values, options, Committer.CommitObserver.NONE);
  }

  static <K, V> KafkaCollector<K, V> open(
      Map<String, ?> consumerConfig,
      Deserializer<K> keys,
      Deserializer<V> values,
      KafkaCollectorOptions options,
      Committer.CommitObserver observer) {
    Objects.requireNonNull(options, "options");
    KafkaConsumer<K, V> consumer = ConsumerConfigs.consumer(consumerConfig, keys, values, options);
    String bootstrap = String.valueOf(consumerConfig.get(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG));
    return new KafkaCollector<>(bootstrap, consumer, options, observer);
  }

  /**
   * The collector's name.
   *
   * @return {@link KafkaCollectorOptions#name()}
   */
  public String name() {
    return options.name();
  }

  /**
   * Batch mode: consumes until {@link #stop()} (or a failure, or an interrupt), running {@code
   * handler} for each batch on a virtual thread, with up to {@code depth} batches uncommitted.
   *
   * @param depth uncommitted batches over all partitions at most, 1 to {@link
   *     CollectorOptions#MAX_DEPTH}; also how many handlers may run
   * @param handler the work per batch
   * @return what the run did; {@link ProcessSummary#checkpoint()}'s token lists the offsets the run
   *     committed ({@code topic-partition=offset,...}) and its sequence counts the committed
   *     batches. A run stopped or closed while it still waits for its brokers (startup) returns a
   *     stopped summary with no batches, no commits and an empty token
   * @throws dev.collector.BatchFailedException if a batch failed for good; its sequence is the
   *     batch's first offset and its message names the partition
   * @throws dev.collector.SourceException if the brokers did not answer within {@link
   *     KafkaCollectorOptions#startupTimeout()}, a topic does not exist or cannot be read, a record
   *     cannot be deserialized and the policy has no dead-letter handler (the records before it
   *     were handled and committed), or the consumer failed otherwise (Kafka's own exceptions never
   *     leave this method)
   * @throws dev.collector.CheckpointException if a commit failed after its retries
   * @throws ConcurrentUseException if a run is active
   * @throws ReentrantCallException if called from one of this collector's handlers
   * @throws CollectorClosedException if the collector was closed
   * @throws InterruptedException if the calling thread was interrupted; the handled prefix was
   *     committed first
   */
  public ProcessSummary process(int depth, BatchHandler<ConsumerRecord<K, V>> handler)
      throws InterruptedException {
    Objects.requireNonNull(handler, "handler");
    return runs.run(depth, depth, null, UnitHandler.batches(handler));
  }

  /**
   * Record mode: like {@link #process}, with a handler per record; {@code depth} counts records.
   *
   * @param depth uncommitted records over all partitions at most, 1 to {@link
   *     CollectorOptions#MAX_DEPTH}
   * @param concurrency handlers running at most, at least 1
   * @param ordering which records may run at the same time
   * @param handler the work per record
   * @return what the run did (batches count records)
   * @throws InterruptedException if the calling thread was interrupted
   */
  public ProcessSummary processRecords(
      int depth, int concurrency, Ordering ordering, RecordHandler<K, V> handler)
      throws InterruptedException {
    Objects.requireNonNull(ordering, "ordering");
    Objects.requireNonNull(handler, "handler");
    if (concurrency < 1) {
      throw new IllegalArgumentException("concurrency must be >= 1, was " + concurrency);
    }
    return runs.run(depth, concurrency, ordering, UnitHandler.records(handler));
  }

  /**
   * Pull API: the next batch, waiting at most {@code timeout}. The first call starts a pull
   * session: a background thread polls, with up to {@link KafkaCollectorOptions#pullDepth()}
   * batches uncommitted, and commits settled batches in order per partition.
   *
   * @param timeout how long to wait at most
   * @return the next delivery, or {@code null} if none came in time
   * @throws dev.collector.BatchFailedException once, after a delivery of the session was failed
   *     without a dead-letter handler (also {@code SourceException}, {@code CheckpointException});
   *     the call after that starts a new session at the committed offsets
   * @throws ConcurrentUseException while {@link #process} runs
   * @throws ReentrantCallException if called from one of this collector's handlers
   * @throws CollectorClosedException if the collector was closed
   * @throws InterruptedException if interrupted while waiting
   */
  public @Nullable Delivery<ConsumerRecord<K, V>> next(Duration timeout)
      throws InterruptedException {
    return pulls.next(timeout);
  }

  /**
   * Pull API: waits until every batch acknowledged so far, up to the first unsettled one of each
   * partition, is committed to the group (or its partition was revoked or lost).
   *
   * @return the offsets the session committed ({@code topic-partition=offset,...})
   * @throws InterruptedException if interrupted while waiting
   */
  public Checkpoint awaitCommitted() throws InterruptedException {
    return pulls.awaitCommitted();
  }

  /**
   * Asks the active run to stop gracefully: dispatch nothing more, let running handlers finish
   * (bounded by {@link KafkaCollectorOptions#drainTimeout()}), commit, leave the group, return.
   * Does not wait.
   *
   * @return {@code true} if a run was active
   */
  public boolean stop() {
    return runs.stop();
  }

  /**
   * A snapshot of the active run, per partition.
   *
   * @return the progress; empty with capacity 0 when no run is active
   */
  public KafkaProgress progress() {
    PollLoop<K, V> loop = runs.active();
    if (loop == null) {
      return KafkaProgress.builder().build();
    }
    Window window = loop.window();
    Window.Totals t = window.totals();
    return KafkaProgress.builder()
        .uncommitted(t.uncommitted())
        .capacity(window.depth())
        .running(t.running())
        .handled(t.handled())
        .committed(t.committed())
        .fenced(t.fenced())
        .partitions(window.partitions())
        .build();
  }

  /**
   * Closes the collector: an active run is stopped without drain (its handlers are interrupted, the
   * handled prefix committed) and this call waits for it to return; then the consumer is closed and
   * the meters of every {@link KafkaCollectorMetrics} binding are removed (a registry that throws
   * while removing is logged, not thrown). A run still waiting for its brokers (startup) ends at
   * once and returns a stopped summary. Every call, also one racing the first or coming after it,
   * returns only once the run has ended and the consumer is closed (G4); closing again does nothing
   * more.
   *
   * @throws ReentrantCallException if called from one of this collector's handlers
   */
  @Override
  public void close() {
    runs.close();
  }

  /** Whether close() was called (a settle after it throws CollectorClosedException). */
  boolean isClosed() {
    return runs.isClosed();
  }

  /** Units handled, dead-lettered and fenced over every run so far, the active one included. */
  KafkaTelemetry.Counts counts() {
    return runs.counts();
  }
}
