package dev.collector.kafka;

import dev.collector.CollectorClosedException;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.MisuseException;
import dev.collector.ProcessSummary;
import dev.collector.ReentrantCallException;
import dev.collector.SourceException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.jspecify.annotations.Nullable;

/**
 * The runs of one {@link KafkaCollector} and its consumer's lifecycle: starts and ends runs
 * (process() here, pull sessions through {@link PullSessions}), stops them, and closes the
 * consumer. The javadoc of {@link KafkaCollector}'s public methods says what callers see.
 */
final class Runs<K, V> {

  /*
   * Invariant: at most one run (PollLoop) is active, and the consumer is used by the active
   * run's thread only -- or, when none is active, by close(). `state` guards `active` and
   * `closed`; close() waits on `idle` for the active run to return before closing the consumer.
   * The pull API's machinery (session, poll thread, next()'s waiting) is PullSessions; it shares
   * `state` (lock()) and starts and ends its runs through the *Locked methods below, under it.
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  /** The collector: handler threads are marked with it ({@link HandlerThreads#CURRENT}). */
  private final Object owner;

  private final String bootstrap;
  private final Consumer<K, V> consumer;
  private final KafkaCollectorOptions options;
  private final Committer.CommitObserver observer;
  private final KafkaTelemetry telemetry;

  private final ReentrantLock state = new ReentrantLock();
  private final Condition idle = state.newCondition();
  private volatile @Nullable PollLoop<K, V> active;
  private boolean closed;

  /** What finished runs handled, for the metrics' counters. Guarded by {@code state}. */
  private KafkaTelemetry.Counts finished = KafkaTelemetry.Counts.ZERO;

  private boolean consumerClosed;

  Runs(
      Object owner,
      String bootstrap,
      Consumer<K, V> consumer,
      KafkaCollectorOptions options,
      Committer.CommitObserver observer,
      KafkaTelemetry telemetry) {
    this.owner = owner;
    this.bootstrap = bootstrap;
    this.consumer = consumer;
    this.options = options;
    this.observer = observer;
    this.telemetry = telemetry;
  }

  /** The lock that guards the runs; {@link PullSessions} shares it. */
  ReentrantLock lock() {
    return state;
  }

  String name() {
    return options.name();
  }

  /** The active run's loop, or {@code null}. */
  @Nullable PollLoop<K, V> active() {
    return active;
  }

  /** A run of process() or processRecords() on the calling thread. */
  ProcessSummary run(int depth, int concurrency, @Nullable Ordering ordering, UnitHandler handler)
      throws InterruptedException {
    if (HandlerThreads.CURRENT.get() == owner) {
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
      return loop.run(handler, Math.min(concurrency, depth), owner);
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

  /** {@link KafkaCollector#stop}. */
  boolean stop() {
    PollLoop<K, V> loop = active;
    if (loop == null) {
      return false;
    }
    loop.requestStop(false);
    return true;
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

  /** {@link KafkaCollector#close}. */
  void close() {
    if (HandlerThreads.CURRENT.get() == owner) {
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
