package dev.collector.kafka;

import dev.collector.BatchHandler;
import dev.collector.Checkpoint;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.Delivery;
import dev.collector.MisuseException;
import dev.collector.ProcessSummary;
import dev.collector.ReentrantCallException;
import dev.collector.SourceException;
import dev.collector.StaleDeliveryException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
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
   * Invariant: at most one run (PollLoop) is active, and the consumer is used by the active
   * run's thread only -- or, when none is active, by close(). `state` guards `active` and
   * `closed`; close() waits on `idle` for the active run to return before closing the consumer.
   * The pull API's machinery (session, poll thread, next()'s waiting) is PullSessions; it shares
   * `state` and starts and ends its runs through the *Locked methods below, under that lock.
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  private final String bootstrap;
  private final Consumer<K, V> consumer;
  private final KafkaCollectorOptions options;
  private final Committer.CommitObserver observer;

  /** Events for the metrics binder ({@link KafkaCollectorMetrics}). */
  final KafkaTelemetry telemetry;

  private final ReentrantLock state = new ReentrantLock();
  private final Condition idle = state.newCondition();
  private final PullSessions<K, V> pulls = new PullSessions<>(this, state);
  private volatile @Nullable PollLoop<K, V> active;
  private boolean closed;

  /** What finished runs handled, for the metrics' counters. Guarded by {@code state}. */
  private KafkaTelemetry.Counts finished = KafkaTelemetry.Counts.ZERO;

  private boolean consumerClosed;

  private KafkaCollector(
      String bootstrap,
      Consumer<K, V> consumer,
      KafkaCollectorOptions options,
      Committer.CommitObserver observer) {
    this.bootstrap = bootstrap;
    this.consumer = consumer;
    this.options = options;
    KafkaTelemetry t = new KafkaTelemetry(options.name());
    this.telemetry = t;
    this.observer =
        (name, offsets) -> {
          t.committed();
          observer.committed(name, offsets);
        };
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
    return run(depth, depth, null, UnitHandler.batches(handler));
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
    return run(depth, concurrency, ordering, UnitHandler.records(handler));
  }

  private ProcessSummary run(
      int depth, int concurrency, @Nullable Ordering ordering, UnitHandler handler)
      throws InterruptedException {
    if (HandlerThreads.CURRENT.get() == this) {
      throw new ReentrantCallException(
          MisuseException.NO_BATCH,
          "a handler of collector '"
              + name()
              + "' started a run on its own collector; it would wait for itself."
              + " Hand the work to another thread or another collector");
    }
    CollectorOptions.checkDepth(depth);
    PollLoop<K, V> loop;
    state.lock();
    try {
      checkOpenLocked();
      if (active != null) {
        throw new ConcurrentUseException(
            MisuseException.NO_BATCH,
            "collector '"
                + name()
                + "' is already running; one collector serves one run at a time (open another"
                + " collector in the same group to consume in parallel)");
      }
      loop = startLocked(ordering, depth, false);
    } finally {
      state.unlock();
    }
    try {
      long started = System.nanoTime();
      if (!awaitStartup(loop)) {
        return stoppedAtStartup(loop, started);
      }
      return loop.run(handler, Math.min(concurrency, depth), this);
    } catch (InterruptException e) { // Kafka's unchecked twin (it set the status): G5
      Thread.currentThread().interrupt();
      throw new InterruptedException("collector '" + name() + "' was interrupted: " + e);
    } catch (KafkaException e) { // the consumer failed; Kafka's exceptions never leave process
      throw consumerFailed(loop, e, "run again (committed offsets are kept)");
    } finally {
      telemetry.runEnded(); // before `active` is cleared: no next run has partitions yet
      state.lock();
      try {
        endLocked(loop);
      } finally {
        state.unlock();
      }
    }
  }

  /** What a run stopped (or closed) before its topics were known returns: nothing was done. */
  private static ProcessSummary stoppedAtStartup(PollLoop<?, ?> loop, long started) {
    return ProcessSummary.builder()
        .stopped(true)
        .duration(Duration.ofNanos(System.nanoTime() - started))
        .checkpoint(loop.committer().checkpoint())
        .build();
  }

  private String topicsText() {
    return options.pattern() != null
        ? "pattern " + options.pattern()
        : "topics " + options.topics();
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

  /** Throws if close() was called; the caller holds {@code state}. */
  void checkOpenLocked() {
    if (closed) {
      throw new CollectorClosedException(
          MisuseException.NO_BATCH,
          "collector '"
              + name()
              + "' is closed; open a new one (it resumes at the group's committed offsets)");
    }
  }

  /** Whether a run (process or pull session) is active; the caller holds {@code state}. */
  boolean runningLocked() {
    return active != null;
  }

  /** Creates a run's loop and makes it the active run; the caller holds {@code state}. */
  PollLoop<K, V> startLocked(@Nullable Ordering ordering, int depth, boolean pull) {
    PollLoop<K, V> loop =
        new PollLoop<>(
            name(), bootstrap, consumer, options, ordering, depth, pull, observer, telemetry);
    active = loop;
    return loop;
  }

  /**
   * Ends the active run {@code loop}: counts what it did and wakes close(); the caller holds {@code
   * state} and called {@code telemetry.runEnded()} first.
   */
  void endLocked(PollLoop<K, V> loop) {
    finished = finished.plus(KafkaTelemetry.Counts.of(loop.window().totals()));
    active = null;
    idle.signalAll();
  }

  /** Waits for the brokers and topics ({@link Startup}); {@code false} if the run was stopped. */
  boolean awaitStartup(PollLoop<K, V> loop) throws InterruptedException {
    return Startup.await(name(), bootstrap, consumer, options, loop::stopRequested);
  }

  /** The exception a run throws when the consumer failed ({@code advice}: what to do then). */
  SourceException consumerFailed(PollLoop<K, V> loop, KafkaException e, String advice) {
    return new SourceException(
        name(),
        0,
        loop.committer().checkpoint(),
        new KafkaException(
            "the consumer failed reading "
                + topicsText()
                + " from "
                + bootstrap
                + ": "
                + e
                + "; see the cause, fix it and "
                + advice,
            e));
  }

  KafkaCollectorOptions options() {
    return options;
  }

  /**
   * Asks the active run to stop gracefully: dispatch nothing more, let running handlers finish
   * (bounded by {@link KafkaCollectorOptions#drainTimeout()}), commit, leave the group, return.
   * Does not wait.
   *
   * @return {@code true} if a run was active
   */
  public boolean stop() {
    PollLoop<K, V> loop = active;
    if (loop == null) {
      return false;
    }
    loop.requestStop(false);
    return true;
  }

  /**
   * A snapshot of the active run, per partition.
   *
   * @return the progress; empty with capacity 0 when no run is active
   */
  public KafkaProgress progress() {
    PollLoop<K, V> loop = active;
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

  /** Units handled, dead-lettered and fenced over every run so far, the active one included. */
  KafkaTelemetry.Counts counts() {
    state.lock();
    try {
      PollLoop<K, V> loop = active;
      return loop == null
          ? finished
          : finished.plus(KafkaTelemetry.Counts.of(loop.window().totals()));
    } finally {
      state.unlock();
    }
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
    if (HandlerThreads.CURRENT.get() == this) {
      throw new ReentrantCallException(
          MisuseException.NO_BATCH,
          "a handler of collector '"
              + name()
              + "' tried to close it; it would wait for itself. Call stop() instead");
    }
    boolean first;
    state.lock();
    try {
      first = !closed;
      closed = true;
      PollLoop<K, V> loop;
      while ((loop = active) != null) {
        loop.requestStop(true);
        idle.awaitUninterruptibly(); // a run ends in bounded time once told to stop now
      }
      while (!first && !consumerClosed) {
        idle.awaitUninterruptibly(); // the first close() is closing the consumer
      }
    } finally {
      state.unlock();
    }
    if (!first) {
      return;
    }
    try {
      consumer.close(CloseOptions.timeout(options.commitTimeout()));
    } catch (KafkaException e) {
      LOG.log(Level.WARNING, "{0}: closing the consumer failed: {1}", name(), e.toString());
    } finally {
      try {
        telemetry.closed();
      } finally { // racing close() calls return once the consumer is closed, even if that threw
        state.lock();
        try {
          consumerClosed = true;
          idle.signalAll();
        } finally {
          state.unlock();
        }
      }
    }
  }

  /** Whether close() was called (a settle after it throws CollectorClosedException). */
  boolean isClosed() {
    state.lock();
    try {
      return closed;
    } finally {
      state.unlock();
    }
  }
}
