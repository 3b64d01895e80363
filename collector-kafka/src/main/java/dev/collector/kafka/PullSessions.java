package dev.collector.kafka;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Checkpoint;
import dev.collector.ConcurrentUseException;
import dev.collector.Delivery;
import dev.collector.MisuseException;
import dev.collector.ReentrantCallException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.KafkaException;
import org.jspecify.annotations.Nullable;

/**
 * The pull API of one {@link KafkaCollector}: its pull session, the session's poll thread, and
 * {@code next()}'s waiting. The javadoc of {@link KafkaCollector#next} and {@link
 * KafkaCollector#awaitCommitted} says what callers see.
 */
final class PullSessions<K, V> {

  /*
   * Invariant: at most one pull session is current (`pull`), and a session is started only as the
   * collector's active run -- under the collector's `state` lock (Runs'), in the same critical section
   * that checks the collector is open and no run is active -- and cleared from the collector in the
   * same critical section that marks it done. So a session that is not done is the active run, and
   * a done session's failure is thrown exactly once (by the next() that clears it) before the next
   * session starts. There is no lock of its own: `state` is Runs' lock, passed in.
   */

  /** The collector: handler threads are marked with it ({@link HandlerThreads#CURRENT}). */
  private final KafkaCollector<K, V> collector;

  private final Runs<K, V> runs;
  private final ReentrantLock state;

  @GuardedBy("state")
  private @Nullable PullSession<K, V> pull;

  PullSessions(KafkaCollector<K, V> collector, Runs<K, V> runs) {
    this.collector = collector;
    this.runs = runs;
    this.state = runs.lock();
  }

  /** {@link KafkaCollector#next}. */
  @Nullable Delivery<ConsumerRecord<K, V>> next(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    PullSession<K, V> session = pullSession();
    Window window = session.loop.window();
    WorkUnit unit = window.failure() != null ? null : window.takePulled(deadline);
    if (unit != null && window.failure() != null) {
      window.settlePulled(unit, false, false, null); // not handed out: delivered again
      unit = null;
    }
    if (unit == null) {
      if (window.failure() != null) {
        // a delivery was failed without a dead-letter handler: the session is ending; the very
        // next next() reports it (kafka.md), no read-ahead delivery is handed out meanwhile
        session.ended.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
      if (session.done) {
        return next(Duration.ofNanos(Math.max(0, deadline - System.nanoTime()))); // reports it
      }
      return null;
    }
    return new PulledDelivery<>(
        runs.name(), window, unit, runs.options().failurePolicy().deadLetter(), runs::isClosed);
  }

  /** {@link KafkaCollector#awaitCommitted}. */
  Checkpoint awaitCommitted() throws InterruptedException {
    PullSession<K, V> session;
    state.lock();
    try {
      session = pull;
    } finally {
      state.unlock();
    }
    if (session == null) {
      return new Checkpoint(0, "");
    }
    session.loop.commitSoon();
    session.loop.window().awaitCommitted();
    return session.loop.committer().checkpoint();
  }

  private PullSession<K, V> pullSession() {
    if (HandlerThreads.CURRENT.get() == collector) {
      throw new ReentrantCallException(
          MisuseException.NO_BATCH,
          "a handler of collector '"
              + runs.name()
              + "' called next() on its own collector; settle its own batch by returning");
    }
    state.lock();
    try {
      runs.checkOpenLocked();
      PullSession<K, V> session = pull;
      if (session != null && session.done) {
        pull = null;
        RuntimeException failure = session.failure;
        if (failure != null) {
          throw failure; // once; the next call starts a new session
        }
        session = null;
      }
      if (session == null) {
        if (runs.runningLocked()) {
          throw new ConcurrentUseException(
              MisuseException.NO_BATCH,
              "collector '"
                  + runs.name()
                  + "' is running process(); the pull API and process() cannot share a collector");
        }
        PollLoop<K, V> loop = runs.startLocked(null, runs.options().pullDepth(), true);
        session = new PullSession<>(loop);
        pull = session;
        PullSession<K, V> started = session;
        Thread.ofPlatform().name(runs.name() + "-poll").daemon(true).start(() -> runPull(started));
      }
      return session;
    } finally {
      state.unlock();
    }
  }

  private void runPull(PullSession<K, V> session) {
    try {
      if (runs.awaitStartup(session.loop)) {
        session.loop.run(UnitHandler.batches(batch -> {}), 0, collector);
      }
    } catch (KafkaException e) {
      session.failure = runs.consumerFailed(session.loop, e, "pull again");
    } catch (RuntimeException e) {
      session.failure = e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // nobody interrupts the poll thread; end the session
    } finally {
      collector.telemetry.runEnded();
      state.lock();
      try {
        runs.endLocked(session.loop);
        session.done = true;
        session.ended.countDown();
      } finally {
        state.unlock();
      }
    }
  }

  /** A pull session: its poll loop, and how it ended. */
  private static final class PullSession<K, V> {
    final PollLoop<K, V> loop;
    volatile boolean done;
    final CountDownLatch ended = new CountDownLatch(1);
    volatile @Nullable RuntimeException failure;

    PullSession(PollLoop<K, V> loop) {
      this.loop = loop;
    }
  }
}
