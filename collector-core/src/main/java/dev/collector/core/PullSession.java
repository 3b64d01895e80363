package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.AckOrdering;
import dev.collector.Batch;
import dev.collector.Checkpoint;
import dev.collector.Progress;
import dev.collector.SourceBatch;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One pull epoch: a background fetcher filling the ring, callers taking deliveries and settling
 * them, a committer. Invariant: a delivery is settled at most once, and no settle moves the ring
 * once the session is fenced (its lifecycle left RUNNING).
 *
 * <p>Thread-safe. {@link #take} blocks (interruptibly) for a batch; settles never block except on
 * the session lock, which is never held around user code or I/O.
 */
final class PullSession<T> {

  /*
   * Pull-only state lives here, behind one lock, so that process() pays nothing for it: the
   * queue of fetched batches not yet delivered, the redelivery queue ordered by due time, the
   * count of unsettled deliveries (bounded by `concurrency`), and the STRICT check, which must
   * see the ack frontier and move it atomically. The ring and the committer are shared with
   * process().
   *
   * Waiters (next() callers and awaitCommitted) wait on one condition, `changed`, signalled
   * with signalAll on every event that can let a waiter proceed: a batch fetched, a redelivery
   * queued, a settle (frees concurrency), a commit, the end of the source, a lifecycle change.
   * A waiter with a pending redelivery waits at most until its due time, timed or not, so a
   * redelivery is never missed by waiters that happened to wait untimed (lost wake-up).
   *
   * Fencing: a failure (a delivery failed for good, the source, a commit) moves the lifecycle
   * to CANCELLING: fetching stops and next() reports the failure, but the session's other
   * deliveries may still be acknowledged (their acks are committed) until the session ends.
   * end() (from that next() or close()) sets `fenced` under the lock, so every settle that got
   * in before is in the ring before the final commit reads the frontier, and every later one
   * throws StaleDeliveryException.
   */

  private final RunContext<T> context;
  private final SlotRing ring;
  private final Lifecycle lifecycle;
  private final Committer committer;
  private final @Nullable Watchdog watchdog;
  private final Fetcher<T> fetcher;
  private final int concurrency;
  private final boolean strict;
  private final Thread fetchThread;
  private final Thread commitThread;
  private final @Nullable Thread watchThread;
  private final Wakeup fetchWakeup;

  /** Guards the pull-only state; {@link PullDelivery} settles under it. */
  final ReentrantLock lock = new ReentrantLock();

  private final Condition changed = lock.newCondition();
  private final AtomicBoolean ending = new AtomicBoolean();
  private final AtomicBoolean reported = new AtomicBoolean();
  private final CountDownLatch ended = new CountDownLatch(1);

  @GuardedBy("lock")
  private final ArrayDeque<Batch<T>> ready = new ArrayDeque<>();

  @GuardedBy("lock")
  private final PriorityQueue<Redelivery<T>> redeliveries = new PriorityQueue<>();

  @GuardedBy("lock")
  private boolean sourceEnded;

  /** Set by {@link #end()}: settles from now on throw StaleDeliveryException. */
  @GuardedBy("lock")
  private boolean fenced;

  private final AtomicInteger running = new AtomicInteger();
  private final AtomicLong settledCount = new AtomicLong();

  /** A failed delivery waiting for its backoff. */
  private record Redelivery<T>(long due, Batch<T> batch) implements Comparable<Redelivery<T>> {
    @Override
    public int compareTo(Redelivery<T> o) {
      return Long.compare(due - o.due, 0);
    }
  }

  PullSession(RunContext<T> context, Checkpoint start) {
    this.context = context;
    int depth = context.options().depth();
    this.ring = new SlotRing(depth, start);
    this.concurrency = context.options().concurrencyFor(depth);
    this.strict = context.options().ackOrdering() == AckOrdering.STRICT;
    this.lifecycle = new Lifecycle(this::lifecycleChanged);
    this.fetchThread = Thread.ofVirtual().name(context.name() + "-fetcher").unstarted(this::fetch);
    this.fetchWakeup = new Wakeup(fetchThread);
    this.fetcher = new Fetcher<>(context, ring, lifecycle, fetchWakeup);
    this.committer = new Committer(context, ring, lifecycle, this::committed);
    this.commitThread = Thread.ofVirtual().name(context.name() + "-committer").unstarted(committer);
    this.watchdog =
        Watchdog.of(context.name(), ring, context.options().stuckThreshold(), Duration.ZERO);
    Watchdog w = watchdog;
    this.watchThread =
        w == null ? null : Thread.ofVirtual().name(context.name() + "-watchdog").unstarted(w);
  }

  void start() {
    commitThread.start();
    if (watchThread != null) {
      watchThread.start();
    }
    fetchThread.start();
  }

  RunContext<T> context() {
    return context;
  }

  Lifecycle lifecycle() {
    return lifecycle;
  }

  SlotRing ring() {
    return ring;
  }

  Committer committer() {
    return committer;
  }

  boolean strict() {
    return strict;
  }

  // ---- fetching -----------------------------------------------------------------------------

  private void fetch() {
    try {
      while (awaitRoom()) {
        SourceBatch<T> next = fetcher.fetch();
        if (next == null) {
          if (fetcher.exhausted()) {
            signal(true);
          }
          return;
        }
        long sequence = ring.add(next.resumeToken(), next.records().size());
        Batch<T> batch = Batch.of(sequence, next.records(), next.resumeToken(), 1);
        lock.lock();
        try {
          ready.add(batch);
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      }
    } catch (Throwable t) { // a defect or an Error: end the session, saying why
      lifecycle.sourceFailed(ring.fetched(), t);
    } finally {
      fetcher.close();
    }
  }

  /** Whether {@code t} is one of this session's own threads (fetcher, committer, watchdog). */
  boolean runsOn(Thread t) {
    return t == fetchThread || t == commitThread || t == watchThread;
  }

  private boolean awaitRoom() {
    long waitedSince = 0;
    Telemetry.@Nullable WindowFullEvent event = null;
    while (lifecycle.isRunning()) {
      if (ring.hasRoom()) {
        if (waitedSince != 0) {
          context.telemetry().windowFull(event, Math.max(1, System.nanoTime() - waitedSince));
        }
        return true;
      }
      if (waitedSince == 0) {
        waitedSince = System.nanoTime();
        event = Telemetry.beginWindowFull();
      }
      committer.windowFull(); // a lingering committer (commitInterval) must not stall the run
      fetchWakeup.arm();
      if (lifecycle.isRunning() && !ring.hasRoom()) {
        fetchWakeup.park();
      }
      fetchWakeup.disarm();
    }
    return false;
  }

  private void committed() {
    fetchWakeup.wake();
    signal(false);
  }

  private void lifecycleChanged() {
    fetchWakeup.wake();
    fetcher.interruptIfFetching();
    signal(false);
  }

  private void signal(boolean endOfSource) {
    lock.lock();
    try {
      if (endOfSource) {
        sourceEnded = true;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  // ---- delivering ---------------------------------------------------------------------------

  /**
   * Takes the next delivery.
   *
   * @param nanos how long to wait: {@code Long.MAX_VALUE} for ever, negative not at all
   * @return the delivery, or {@code null} if none came in time, the source is exhausted, or the
   *     session failed (then {@link Lifecycle#failure()} says why)
   */
  @Nullable PullDelivery<T> take(long nanos) throws InterruptedException {
    long deadline = System.nanoTime() + Math.max(0, nanos);
    boolean forever = nanos == Long.MAX_VALUE;
    lock.lockInterruptibly();
    try {
      while (true) {
        if (!lifecycle.isRunning()) {
          return null;
        }
        long now = System.nanoTime();
        long dueIn = Long.MAX_VALUE;
        if (running.get() < concurrency) {
          Redelivery<T> r = redeliveries.peek();
          if (r != null && r.due() - now <= 0) {
            redeliveries.poll();
            return deliver(r.batch().nextAttempt());
          }
          Batch<T> b = ready.poll();
          if (b != null) {
            return deliver(b);
          }
          if (r != null) {
            dueIn = r.due() - now;
          }
        }
        if (sourceEnded && ready.isEmpty() && redeliveries.isEmpty()) {
          return null;
        }
        if (nanos < 0) {
          return null;
        }
        long left = forever ? Long.MAX_VALUE : deadline - now;
        if (left <= 0) {
          return null;
        }
        long wait = Math.min(left, dueIn);
        if (wait == Long.MAX_VALUE) {
          changed.await();
        } else {
          changed.awaitNanos(wait);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private PullDelivery<T> deliver(Batch<T> batch) {
    running.incrementAndGet();
    ring.attemptStarted(batch.sequence(), System.nanoTime());
    return new PullDelivery<>(this, batch);
  }

  /** Whether every batch was delivered and the source is exhausted. */
  boolean isExhausted() {
    lock.lock();
    try {
      return sourceEnded && ready.isEmpty() && redeliveries.isEmpty();
    } finally {
      lock.unlock();
    }
  }

  // ---- settling (PullDelivery calls these under the lock) ---------------------------------

  @GuardedBy("lock")
  boolean fenced() {
    return fenced;
  }

  /** A delivery was acknowledged or dead-lettered: it may be committed. */
  @GuardedBy("lock")
  boolean settled(long sequence) {
    running.decrementAndGet();
    settledCount.incrementAndGet();
    boolean moved = ring.settle(sequence);
    changed.signalAll();
    return moved;
  }

  /** A delivery failed with attempts left: deliver it again after {@code backoffNanos}. */
  @GuardedBy("lock")
  void redeliver(Batch<T> batch, long backoffNanos) {
    running.decrementAndGet();
    ring.stoppedRunning(batch.sequence());
    redeliveries.add(new Redelivery<>(System.nanoTime() + backoffNanos, batch));
    changed.signalAll();
  }

  /** A delivery failed for good; the caller records the failure in the lifecycle. */
  @GuardedBy("lock")
  void failed(long sequence) {
    running.decrementAndGet();
    ring.stoppedRunning(sequence);
    changed.signalAll();
  }

  // ---- commits and the end --------------------------------------------------------------------

  /**
   * Waits until the acknowledged prefix at the time of the call is committed.
   *
   * @return the durable checkpoint, at or past that prefix
   * @throws dev.collector.CheckpointException if a commit failed
   */
  Checkpoint awaitCommitted() throws InterruptedException {
    long target = ring.acked();
    lock.lockInterruptibly();
    try {
      while (ring.committed() < target) {
        if (committer.failed()) {
          throw commitFailure();
        }
        changed.await();
      }
      return ring.durable();
    } finally {
      lock.unlock();
    }
  }

  /** The exception for a failed commit, naming what is durable, even if a delivery failed first. */
  RuntimeException commitFailure() {
    return context.toException(committer.failure(), ring.durable(), List.of());
  }

  /** Whether the caller is the one that reports this session's failure (exactly one is). */
  boolean claimReport() {
    return reported.compareAndSet(false, true);
  }

  /**
   * Ends the session: fences settles, stops fetching, commits the acknowledged prefix and waits for
   * every thread. Idempotent; concurrent callers all wait for the end.
   */
  void end() {
    if (!ending.compareAndSet(false, true)) {
      RunContext.awaitUninterruptibly(ended);
      return;
    }
    try {
      lifecycle.cancel();
      lock.lock(); // fence: settles that got in first are in the ring, later ones are stale
      try {
        fenced = true;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
      StructuredScope.joinUninterruptibly(fetchThread);
      lifecycle.finalizing();
      committer.finish();
      StructuredScope.joinUninterruptibly(commitThread);
      Watchdog w = watchdog;
      Thread wt = watchThread;
      if (w != null && wt != null) {
        w.stop();
        StructuredScope.joinUninterruptibly(wt);
      }
    } finally {
      lifecycle.done();
      ended.countDown();
    }
  }

  Progress progress() {
    long acked = ring.acked();
    long settledAhead = ring.start().sequence() + settledCount.get() - acked;
    return ring.progress(running.get(), settledAhead, context.options().stuckThreshold());
  }
}
