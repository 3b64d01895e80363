package dev.collector.core;

import dev.collector.AckOrdering;
import dev.collector.BatchAbandonedException;
import dev.collector.Batch;
import dev.collector.BatchFailedException;
import dev.collector.BatchHandler;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorException;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.MisuseException;
import dev.collector.ProcessSummary;
import dev.collector.Progress;
import dev.collector.ReentrantCallException;
import dev.collector.SourceBatch;
import dev.collector.SourceException;
import dev.collector.SourceReader;
import dev.collector.StaleDeliveryException;
import dev.collector.DeadLetterHandler;
import dev.collector.FailurePolicy;
import dev.collector.Retry;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/** The {@link Collector} implementation; see the interface for the contract. */
final class OrderedCollector<T> implements Collector<T> {

  /*
   * Structure of a process() run (all threads are virtual, named <name>-<role>):
   *
   *   owner thread (the caller)
   *    ├─ outer scope
   *    │   └─ committer: waits for the acknowledged frontier to move, commits the newest
   *    │                 contiguous checkpoint (group commit), frees the window's slots
   *    └─ inner scope
   *        ├─ fetcher:   reads the source while the window has a free slot
   *        └─ handler-N: one per batch, forked by the owner as batches arrive
   *
   * The owner dispatches: it takes fetched batches from the window and forks their handlers
   * (only a scope's owner may fork). Handlers never wait for commits; the fetcher waits only
   * when `depth` batches are uncommitted. When the source is exhausted (or stop() was called,
   * or a failure halted the window) the owner waits for the running handlers (bounded by the
   * drain timeout for stop()), cancels the inner scope, and closes it, which waits for every
   * handler and the fetcher. Only then does it tell the committer to finish: the committer
   * commits the final contiguous prefix and exits, and the owner joins the outer scope. So the
   * final commit covers every acknowledgement, and process() returns only after it is durable.
   * The committer lives in the outer scope so cancelling the handlers never interrupts a
   * commit.
   *
   * Every outcome is reported to the window, the single source of truth: handler and fetcher
   * wrappers never throw into the scope. A failure halts the window, which wakes the owner.
   *
   * A pull session is the same window with a fetcher and a committer thread, but no owner:
   * the session is ended (threads stopped and joined, final commit) by close() or by the
   * next() call that reports its failure; the next next() starts a new epoch at the
   * committed checkpoint.
   *
   * Collector-level state (mode, committed checkpoint between runs, active session) is
   * guarded by stateLock; it is never held around user code, only around thread joins when a
   * pull session ends, so that a new session cannot start before the old one's final commit.
   */

  private static final System.Logger LOG = System.getLogger(Collector.class.getName());

  private enum Mode {
    IDLE,
    PROCESSING,
    PULLING,
    CLOSED
  }

  private final BatchSource<T> source;
  private final CheckpointStore store;
  private final CollectorOptions options;
  private final String name;
  private final boolean strict;
  final Telemetry telemetry;
  /**
   * The batch whose handler the current thread runs, to catch re-entrant calls. Per instance on
   * purpose: a handler of one collector may well use another collector.
   */
  @SuppressWarnings("ThreadLocalUsage")
  private final ThreadLocal<Batch<?>> handlerBatch = new ThreadLocal<>();

  private final ReentrantLock stateLock = new ReentrantLock();
  private final Condition idle = stateLock.newCondition();
  private Mode mode = Mode.IDLE;
  /** Set when close() starts; read without the lock by deliveries. */
  private volatile boolean closed;
  private Checkpoint committed;
  private @Nullable CompletionWindow<T> window;
  private @Nullable PullSession session;

  OrderedCollector(BatchSource<T> source, CheckpointStore store, CollectorOptions options) {
    this.source = Objects.requireNonNull(source, "source");
    this.store = Objects.requireNonNull(store, "store");
    this.options = Objects.requireNonNull(options, "options");
    this.name = options.name();
    this.strict = options.ackOrdering() == AckOrdering.STRICT;
    this.telemetry = new Telemetry(name);
    Checkpoint loaded;
    try {
      loaded = store.load();
    } catch (IOException e) {
      throw new CheckpointException(
          "collector '" + name + "' could not load its checkpoint: " + e
              + "; nothing was processed. Repair or replace the store; the collector never"
              + " starts over from the beginning on its own",
          null,
          e);
    }
    this.committed = loaded == null ? Checkpoint.INITIAL : loaded;
  }

  @Override
  public String name() {
    return name;
  }

  // ---- process ------------------------------------------------------------------------------

  @Override
  public ProcessSummary process(int depth, BatchHandler<T> handler) throws InterruptedException {
    try {
      return processOrThrow(depth, handler);
    } catch (MisuseException e) {
      telemetry.misuse(e.getClass().getSimpleName());
      throw e;
    }
  }

  private ProcessSummary processOrThrow(int depth, BatchHandler<T> handler)
      throws InterruptedException {
    CollectorOptions.checkDepth(depth);
    Objects.requireNonNull(handler, "handler must not be null: pass the work to run per batch");
    checkNotInOwnHandler("process()");
    CompletionWindow<T> w;
    stateLock.lock();
    try {
      checkNotClosed(MisuseException.NO_BATCH, "process()");
      if (mode != Mode.IDLE) {
        throw new ConcurrentUseException(
            MisuseException.NO_BATCH,
            "process() called on collector '" + name + "' while "
                + (mode == Mode.PROCESSING
                    ? "another process() runs; wait for it to return"
                    : "a pull session is active; close() the collector first")
                + ". A collector serves one run at a time; for parallel runs use one collector"
                + " per source and checkpoint store");
      }
      mode = Mode.PROCESSING;
      w = new CompletionWindow<>(name, depth, committed, options.stuckThreshold());
      window = w;
    } finally {
      stateLock.unlock();
    }
    try {
      return runOnVirtualOwner(w, handler);
    } finally {
      stateLock.lock();
      try {
        committed = w.durable();
        window = null;
        mode = Mode.IDLE;
        idle.signalAll();
      } finally {
        stateLock.unlock();
      }
    }
  }

  /**
   * Runs the scopes on a virtual "owner" thread while the caller waits. The owner waits on the
   * window for every batch it dispatches; on a platform caller thread each of those waits would
   * be an OS-level park and unpark (a futex round trip per batch), on a virtual thread it is a
   * cheap continuation switch. An interrupt of the caller is passed on to the owner, which
   * cancels the run as if it had been interrupted itself (G5).
   */
  private ProcessSummary runOnVirtualOwner(CompletionWindow<T> w, BatchHandler<T> handler)
      throws InterruptedException {
    if (Thread.currentThread().isVirtual()) {
      return run(w, handler);
    }
    var outcome = new java.util.concurrent.atomic.AtomicReference<@Nullable Object>();
    Thread owner =
        Thread.ofVirtual()
            .name(name + "-owner")
            .start(() -> {
              try {
                outcome.set(run(w, handler));
              } catch (Throwable t) {
                outcome.set(t);
              }
            });
    try {
      owner.join();
    } catch (InterruptedException e) {
      owner.interrupt();
      StructuredScope.joinUninterruptibly(owner);
      Thread.currentThread().interrupt(); // G5: the caller keeps its interrupt status
    }
    Object result = outcome.get();
    if (result instanceof ProcessSummary summary) {
      return summary; // an interrupt that came after the run completed stays set on the caller
    }
    if (result instanceof InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw interrupted;
    }
    if (result instanceof RuntimeException runtime) {
      throw runtime;
    }
    if (result instanceof Error error) {
      throw error;
    }
    throw new IllegalStateException("process() owner ended without an outcome", (Throwable) result);
  }

  private ProcessSummary run(CompletionWindow<T> w, BatchHandler<T> handler)
      throws InterruptedException {
    long started = System.nanoTime();
    boolean interrupted = false;
    try (StructuredScope outer = new StructuredScope()) {
      outer.fork(name + "-committer", () -> commitLoop(w));
      if (watchdogPeriodNanos() > 0) {
        outer.fork(name + "-watchdog", () -> watchdogLoop(w));
      }
      try (StructuredScope inner = new StructuredScope()) {
        inner.fork(name + "-fetcher", () -> fetchLoop(w));
        try {
          for (Batch<T> b; (b = w.take()) != null; ) {
            Batch<T> batch = b;
            inner.fork(name + "-handler-" + batch.sequence(), () -> handle(w, handler, batch));
          }
          w.awaitDrained();
        } catch (InterruptedException e) {
          interrupted = true;
        }
        // Whatever still runs now is cancelled: the fetcher, and handlers that outlived a
        // failure, an interrupt or stop()'s drain timeout. Their batches stay uncommitted.
        w.cancel();
        inner.cancel();
        interrupted |= joinCancelled(inner);
      }
      w.finish();
      try {
        outer.join();
      } catch (InterruptedException e) {
        interrupted = true; // interrupted again while committing: close() cancels the commit
      }
    }
    CompletionWindow.Failure failure = w.failure();
    Checkpoint durable = w.durable();
    if (interrupted) {
      Thread.currentThread().interrupt();
      InterruptedException e =
          new InterruptedException(
              "process() of collector '" + name + "' was interrupted; committed through"
                  + " sequence " + durable.sequence());
      if (failure != null) {
        e.addSuppressed(toException(failure, durable));
      }
      throw e;
    }
    if (failure != null) {
      throw toException(failure, durable);
    }
    CompletionWindow.Totals totals = w.totals();
    return new ProcessSummary(
        totals.batches(),
        totals.records(),
        totals.commits(),
        Duration.ofNanos(System.nanoTime() - started),
        totals.stopped(),
        totals.uncommitted(),
        totals.deadLettered(),
        durable);
  }

  /** Joins a cancelled scope; returns whether the owner was interrupted meanwhile. */
  private static boolean joinCancelled(StructuredScope scope) {
    try {
      scope.join(); // returns at once: the scope is cancelled
      return false;
    } catch (InterruptedException e) {
      return true;
    }
  }

  /**
   * Runs one batch to settlement under the failure policy: attempts with backoff on this
   * virtual thread, then the dead-letter handler or a failure of the run.
   */
  private @Nullable Void handle(CompletionWindow<T> w, BatchHandler<T> handler, Batch<T> first) {
    long sequence = first.sequence();
    handlerBatch.set(first);
    Retry retry = options.failurePolicy().retry();
    Batch<T> batch = first;
    Throwable failure;
    while (true) {
      failure = attempt(w, handler, batch);
      if (failure == null) {
        w.ack(sequence, CompletionWindow.ANY_ATTEMPT, false);
        telemetry.acknowledged(batch.size());
        if (LOG.isLoggable(Level.DEBUG)) {
          LOG.log(Level.DEBUG, "collector ''{0}'': batch {1} handled ({2} records, attempt {3})",
              name, sequence, batch.size(), batch.attempt());
        }
        return null;
      }
      if (batch.attempt() >= retry.maxAttempts() || w.isCancelled()) {
        break;
      }
      int failedAttempt = batch.attempt();
      Duration backoff = retry.delay(failedAttempt, ThreadLocalRandom.current());
      LOG.log(
          Level.DEBUG,
          () -> "collector '" + name + "': batch " + sequence + " attempt " + failedAttempt
              + " failed, retrying in " + backoff.toMillis() + " ms");
      try {
        Thread.sleep(backoff);
      } catch (InterruptedException e) {
        w.fail(sequence, e); // cancelled while backing off: the cancellation's echo
        return null;
      }
      telemetry.retried();
      batch = batch.nextAttempt();
    }
    DeadLetterHandler deadLetter = options.failurePolicy().deadLetter();
    if (deadLetter != null && !w.isCancelled()) {
      try {
        deadLetter.deadLetter(batch, failure);
        LOG.log(
            Level.WARNING,
            "collector ''{0}'': batch {1} dead-lettered after {2} attempts: {3}",
            name,
            sequence,
            batch.attempt(),
            failure.toString());
        w.deadLettered(sequence);
        telemetry.deadLettered();
        return null;
      } catch (Throwable t) {
        t.addSuppressed(failure);
        failure = t;
      }
    }
    if (!w.isCancelled()) {
      LOG.log(Level.WARNING, "collector ''" + name + "'': batch " + sequence + " failed after "
          + batch.attempt() + " attempt(s); the failure policy ends the run", failure);
    }
    w.fail(sequence, failure);
    return null;
  }

  /** One handler attempt; returns its failure, or null. A timeout is a failure. */
  private @Nullable Throwable attempt(
      CompletionWindow<T> w, BatchHandler<T> handler, Batch<T> batch) {
    Throwable failure = null;
    w.attemptStarted(batch.sequence());
    long started = System.nanoTime();
    try {
      handler.handle(batch);
    } catch (Throwable t) {
      failure = t;
    }
    boolean timedOut = w.attemptEnded(batch.sequence());
    telemetry.handled(batch.sequence(), batch.size(), System.nanoTime() - started,
        timedOut ? Telemetry.TIMEOUT : failure == null ? Telemetry.SUCCESS : Telemetry.FAILURE);
    if (timedOut) {
      Thread.interrupted(); // the watchdog's interrupt was for this attempt only
      TimeoutException timeout =
          new TimeoutException(
              "batch " + batch.sequence() + " of collector '" + name + "', attempt "
                  + batch.attempt() + ", ran longer than batchTimeout "
                  + options.batchTimeout());
      if (failure != null) {
        timeout.addSuppressed(failure);
      }
      return timeout;
    }
    return failure;
  }

  /** How often the watchdog looks: a quarter of the shorter limit; 0 when there is none. */
  private long watchdogPeriodNanos() {
    long timeout = CompletionWindow.saturatedNanos(options.batchTimeout());
    long stuck = CompletionWindow.saturatedNanos(options.stuckThreshold());
    long shortest = Math.min(timeout == 0 ? Long.MAX_VALUE : timeout,
        stuck == 0 ? Long.MAX_VALUE : stuck);
    return shortest == Long.MAX_VALUE ? 0 : Math.max(shortest / 4, 1_000_000);
  }

  private @Nullable Void watchdogLoop(CompletionWindow<T> w) {
    long period = watchdogPeriodNanos();
    long timeout = CompletionWindow.saturatedNanos(options.batchTimeout());
    long timeoutNanos = timeout == 0 ? Long.MAX_VALUE : timeout;
    try {
      while (w.awaitWatchdogTick(period)) {
        for (String warning : w.watch(timeoutNanos)) {
          LOG.log(Level.WARNING, warning);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // cancelled: the thread ends here
    }
    return null;
  }

  /**
   * Reads the source into the window. A failed open or read is retried per {@link
   * CollectorOptions#fetchRetry()}: the reader is closed and reopened at the last fetched
   * position, since a reader that threw may be in any state.
   */
  private @Nullable Void fetchLoop(CompletionWindow<T> w) {
    Retry retry = options.fetchRetry();
    String position = w.start().resumeToken();
    int failures = 0;
    while (true) {
      SourceReader<T> reader = null;
      try {
        reader = source.open(position);
        for (long waited; (waited = w.awaitSlot()) >= 0; ) {
          if (waited > 0) {
            telemetry.windowFull(waited);
          }
          long fetchStart = System.nanoTime();
          SourceBatch<T> next = reader.next();
          if (next == null) {
            w.exhausted();
            return null;
          }
          telemetry.fetched(next.records().size(), System.nanoTime() - fetchStart);
          w.add(next);
          position = next.resumeToken();
          failures = 0;
        }
        return null; // halted
      } catch (Throwable t) {
        failures++;
        long sequence = w.fetchedSequence();
        if (failures >= retry.maxAttempts() || w.isCancelled()
            || CompletionWindow.causedByInterrupt(t)) {
          w.failRun(CompletionWindow.FailureKind.SOURCE, sequence, t);
          return null;
        }
        Duration backoff = backoffAfter(retry, failures, "fetching batch " + sequence, t);
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException e) {
          w.failRun(CompletionWindow.FailureKind.SOURCE, sequence, e); // cancellation's echo
          return null;
        }
      } finally {
        closeQuietly(reader);
      }
    }
  }

  /** The jittered delay before the next attempt of a fetch or commit, logged at WARNING. */
  private Duration backoffAfter(Retry retry, int failedAttempts, String what, Throwable cause) {
    Duration backoff = retry.delay(failedAttempts, ThreadLocalRandom.current());
    LOG.log(
        Level.WARNING,
        "collector ''{0}'': {1} failed (attempt {2} of {3}), retrying in {4} ms: {5}",
        name,
        what,
        failedAttempts,
        retry.maxAttempts(),
        backoff.toMillis(),
        cause.toString());
    return backoff;
  }

  private void closeQuietly(@Nullable SourceReader<T> reader) {
    if (reader == null) {
      return;
    }
    try {
      reader.close();
    } catch (Exception e) {
      LOG.log(Level.WARNING, "collector ''" + name + "'': closing the source reader failed", e);
    }
  }

  /**
   * Commits the newest contiguous checkpoint, one store write at a time. A failed write is
   * retried per {@link CollectorOptions#commitRetry()}; the window's committed position moves
   * only after the store confirmed the write.
   */
  private @Nullable Void commitLoop(CompletionWindow<T> w) {
    Retry retry = options.commitRetry();
    try {
      for (Checkpoint next; (next = w.awaitCommittable()) != null; ) {
        long covered = next.sequence() - w.durable().sequence();
        long commitStart = System.nanoTime();
        for (int attempt = 1; ; attempt++) {
          try {
            store.commit(next);
            telemetry.committed(next.sequence(), covered, System.nanoTime() - commitStart);
            break;
          } catch (Throwable t) {
            if (attempt >= retry.maxAttempts() || CompletionWindow.causedByInterrupt(t)) {
              w.failRun(CompletionWindow.FailureKind.COMMIT, next.sequence(), t);
              return null;
            }
            Duration backoff =
                backoffAfter(retry, attempt, "committing checkpoint " + next.sequence(), t);
            Thread.sleep(backoff);
          }
        }
        w.committed(next);
      }
    } catch (InterruptedException e) {
      // Only a cancelled scope interrupts the committer; the thread ends here.
      Thread.currentThread().interrupt();
    }
    return null;
  }

  private CollectorException toException(CompletionWindow.Failure f, Checkpoint durable) {
    CollectorException e =
        switch (f.kind()) {
          case HANDLER -> new BatchFailedException(name, f.sequence(), f.cause(), durable);
          case SOURCE -> new SourceException(name, f.sequence(), durable, f.cause());
          case COMMIT ->
              new CheckpointException(
                  "collector '" + name + "' could not commit the checkpoint at sequence "
                      + f.sequence() + ": " + f.cause() + "; the durable checkpoint is sequence "
                      + durable.sequence() + ", a new run resumes there",
                  durable,
                  f.cause());
        };
    f.later().forEach(e::addSuppressed);
    return e;
  }

  @Override
  public boolean stop() {
    stateLock.lock();
    try {
      CompletionWindow<T> w = window;
      return mode == Mode.PROCESSING && w != null && w.stop(options.drainTimeout());
    } finally {
      stateLock.unlock();
    }
  }

  // ---- pull ---------------------------------------------------------------------------------

  /** A pull epoch: a window with a background fetcher and committer. */
  private final class PullSession {
    final CompletionWindow<T> window;
    private final Thread fetcher;
    private final Thread committer;

    private final @Nullable Thread watchdog;

    PullSession(Checkpoint start) {
      window = new CompletionWindow<>(name, options.depth(), start, options.stuckThreshold());
      fetcher = Thread.ofVirtual().name(name + "-fetcher").start(() -> fetchLoop(window));
      committer = Thread.ofVirtual().name(name + "-committer").start(() -> commitLoop(window));
      watchdog =
          options.stuckThreshold().isZero()
              ? null
              : Thread.ofVirtual().name(name + "-watchdog").start(() -> watchdogLoop(window));
    }

    /** Stops fetching, commits the acknowledged prefix, waits for every thread. */
    void end() {
      window.end();
      fetcher.interrupt();
      StructuredScope.joinUninterruptibly(fetcher);
      window.finish();
      StructuredScope.joinUninterruptibly(committer);
      if (watchdog != null) {
        StructuredScope.joinUninterruptibly(watchdog);
      }
    }
  }

  @Override
  public @Nullable Delivery<T> next() throws InterruptedException {
    return pull(Long.MAX_VALUE);
  }

  @Override
  public @Nullable Delivery<T> next(Duration timeout) throws InterruptedException {
    return pull(Math.max(0, CompletionWindow.saturatedNanos(timeout)));
  }

  @Override
  public @Nullable Delivery<T> tryNext() {
    try {
      return pull(-1);
    } catch (InterruptedException e) {
      throw new AssertionError("tryNext() never waits", e);
    }
  }

  /** nanos: Long.MAX_VALUE waits for ever, -1 never waits. */
  private @Nullable Delivery<T> pull(long nanos) throws InterruptedException {
    try {
      return pullOrThrow(nanos);
    } catch (MisuseException e) {
      telemetry.misuse(e.getClass().getSimpleName());
      throw e;
    }
  }

  private @Nullable Delivery<T> pullOrThrow(long nanos) throws InterruptedException {
    checkNotInOwnHandler("next()");
    long deadline = nanos >= 0 && nanos != Long.MAX_VALUE ? System.nanoTime() + nanos : 0;
    while (true) {
      PullSession s = session();
      Batch<T> batch;
      if (nanos == Long.MAX_VALUE) {
        batch = s.window.take();
      } else if (nanos < 0) {
        batch = s.window.poll();
      } else {
        batch = s.window.take(Math.max(0, deadline - System.nanoTime()));
      }
      if (batch != null) {
        return new PullDelivery(s, batch);
      }
      CompletionWindow.Failure failure = s.window.failure();
      if (failure == null) {
        checkNotClosed(MisuseException.NO_BATCH, "next()");
        return null; // exhausted, or no batch in time
      }
      Checkpoint durable = endSession(s);
      if (durable != null) {
        throw toException(failure, durable);
      }
      // another thread ended the failed session and reported it; continue on a new one
    }
  }

  private PullSession session() {
    stateLock.lock();
    try {
      checkNotClosed(MisuseException.NO_BATCH, "next()");
      if (mode == Mode.PROCESSING) {
        throw new ConcurrentUseException(
            MisuseException.NO_BATCH,
            "next() called on collector '" + name + "' while process() runs; use one or the"
                + " other, or a second collector with its own checkpoint store");
      }
      PullSession s = session;
      if (s == null) {
        s = new PullSession(committed);
        session = s;
        window = s.window;
        mode = Mode.PULLING;
      }
      return s;
    } finally {
      stateLock.unlock();
    }
  }

  /**
   * Ends {@code s} if it is still the current session.
   *
   * @return the durable checkpoint if this call ended it, {@code null} if it was already ended
   */
  private @Nullable Checkpoint endSession(PullSession s) {
    stateLock.lock();
    try {
      if (session != s) {
        return null;
      }
      s.end();
      session = null;
      window = null;
      committed = s.window.durable();
      mode = Mode.IDLE;
      return committed;
    } finally {
      stateLock.unlock();
    }
  }

  @Override
  public boolean isExhausted() {
    stateLock.lock();
    try {
      PullSession s = session;
      return s != null && s.window.isExhausted();
    } finally {
      stateLock.unlock();
    }
  }

  @Override
  public Checkpoint awaitCommitted() throws InterruptedException {
    PullSession s;
    stateLock.lock();
    try {
      s = session;
      if (s == null) {
        return committed;
      }
    } finally {
      stateLock.unlock();
    }
    Checkpoint durable = s.window.awaitCommitted();
    CompletionWindow.Failure failure = s.window.failure();
    if (failure != null && failure.kind() == CompletionWindow.FailureKind.COMMIT) {
      throw toException(failure, durable);
    }
    return durable;
  }

  /** The pull API's handle. */
  private final class PullDelivery implements Delivery<T> {
    private final PullSession session;
    private final Batch<T> batch;
    private final long deliveredAt = System.nanoTime();

    PullDelivery(PullSession session, Batch<T> batch) {
      this.session = session;
      this.batch = batch;
    }

    @Override
    public Batch<T> batch() {
      return batch;
    }

    @Override
    public boolean ack() {
      boolean acked;
      try {
        checkNotClosed(batch.sequence(), "ack()");
        acked = session.window.ack(batch.sequence(), batch.attempt(), strict);
      } catch (MisuseException e) {
        telemetry.misuse(e.getClass().getSimpleName());
        throw e;
      }
      if (acked) {
        telemetry.handled(batch.sequence(), batch.size(), System.nanoTime() - deliveredAt,
            Telemetry.SUCCESS);
        telemetry.acknowledged(batch.size());
      }
      return acked;
    }

    /**
     * Applies the failure policy: a redelivery after backoff while attempts are left, then the
     * dead-letter handler (on this thread), else a failure of the session.
     */
    @Override
    public boolean fail(Throwable cause) {
      try {
        return failUnderPolicy(cause);
      } catch (MisuseException e) {
        telemetry.misuse(e.getClass().getSimpleName());
        throw e;
      }
    }

    private boolean failUnderPolicy(Throwable cause) {
      Objects.requireNonNull(cause, "cause must not be null: pass why the batch failed");
      long sequence = batch.sequence();
      checkNotClosed(sequence, "fail()");
      FailurePolicy policy = options.failurePolicy();
      long backoff =
          CompletionWindow.saturatedNanos(
              policy.retry().delay(batch.attempt(), ThreadLocalRandom.current()));
      CompletionWindow<T> w = session.window;
      switch (w.failAttempt(sequence, batch.attempt(), policy.retry().maxAttempts(), backoff)) {
        case ALREADY_FAILED -> {
          return false;
        }
        case REDELIVER -> {
          telemetry.handled(sequence, batch.size(), System.nanoTime() - deliveredAt,
              Telemetry.FAILURE);
          telemetry.retried();
          return true;
        }
        case EXHAUSTED ->
            telemetry.handled(sequence, batch.size(), System.nanoTime() - deliveredAt,
                Telemetry.FAILURE);
      }
      DeadLetterHandler deadLetter = policy.deadLetter();
      Throwable failure = cause;
      if (deadLetter != null) {
        try {
          deadLetter.deadLetter(batch, cause);
          w.deadLettered(sequence);
          telemetry.deadLettered();
          return true;
        } catch (StaleDeliveryException e) {
          throw e;
        } catch (Throwable t) {
          t.addSuppressed(cause);
          failure = t;
        }
      }
      return w.fail(sequence, failure);
    }

    @Override
    public void close() {
      long sequence = batch.sequence();
      if (closed || !session.window.isRunning(sequence, batch.attempt())) {
        return;
      }
      try {
        fail(new BatchAbandonedException(name, sequence));
      } catch (ConflictingOutcomeException | StaleDeliveryException settledMeanwhile) {
        // acknowledged, failed or ended by another thread since the check: nothing to abandon
      }
    }

    @Override
    public String toString() {
      return "Delivery[" + name + " batch " + batch.sequence() + ", " + batch.size() + " records]";
    }
  }

  // ---- common -------------------------------------------------------------------------------

  @Override
  public Progress progress() {
    stateLock.lock();
    try {
      CompletionWindow<T> w = window;
      if (w != null) {
        return w.progress();
      }
      long at = committed.sequence();
      return new Progress(at, at, at, 0, 0, 0, 0, Duration.ZERO, 0);
    } finally {
      stateLock.unlock();
    }
  }

  @Override
  public void close() {
    try {
      checkNotInOwnHandler("close()"); // it would wait for the run that waits for this handler
    } catch (MisuseException e) {
      telemetry.misuse(e.getClass().getSimpleName());
      throw e;
    }
    PullSession s;
    stateLock.lock();
    try {
      if (mode == Mode.CLOSED) {
        return;
      }
      closed = true;
      CompletionWindow<T> w = window;
      if (mode == Mode.PROCESSING && w != null) {
        w.cancel();
      }
      while (mode == Mode.PROCESSING) {
        idle.awaitUninterruptibly();
      }
      s = session;
      if (s != null) {
        s.end();
        committed = s.window.durable();
        session = null;
        window = null;
      }
      mode = Mode.CLOSED;
    } finally {
      stateLock.unlock();
    }
    telemetry.closed(); // the Micrometer binder removes its meters
    if (s != null) {
      CompletionWindow.Failure failure = s.window.failure();
      if (failure != null && failure.kind() == CompletionWindow.FailureKind.COMMIT) {
        throw toException(failure, s.window.durable());
      }
    }
  }

  private void checkNotClosed(long sequence, String call) {
    if (closed) {
      String batch = sequence == MisuseException.NO_BATCH ? "" : " of batch " + sequence;
      throw new CollectorClosedException(
          sequence,
          call + batch + " on collector '" + name + "' after close(). Open a new collector on"
              + " the same checkpoint store; it resumes at the committed checkpoint and"
              + " delivers unacknowledged batches again");
    }
  }

  private void checkNotInOwnHandler(String call) {
    Batch<?> running = handlerBatch.get();
    if (running != null) {
      throw new ReentrantCallException(
          running.sequence(),
          call + " called from the handler of batch " + running.sequence() + " of collector '"
              + name + "': it would wait for a window slot that only this handler's return"
              + " can free. Return from the handler instead; to read another source, use a"
              + " second collector");
    }
  }

  @Override
  public String toString() {
    return "Collector[" + name + " " + progress() + "]";
  }
}
