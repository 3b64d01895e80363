package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.BatchHandler;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.Delivery;
import dev.collector.MisuseException;
import dev.collector.ProcessSummary;
import dev.collector.Progress;
import dev.collector.ReentrantCallException;
import dev.collector.Registration;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The {@link Collector} implementation: which run is active, and the checkpoint between runs.
 * Invariant: at most one run (a {@link ProcessRun} or a {@link PullSession}) is active, and a new
 * one starts at the durable checkpoint of the last one, after it ended.
 */
final class OrderedCollector<T> implements Collector<T> {

  /*
   * The facade only decides which run is active; the runs do the work (ProcessRun, PullSession,
   * BatchRunner, Committer, Fetcher, Watchdog over a SlotRing, with a Lifecycle each).
   *
   * stateLock guards the choice of the active run and the committed checkpoint between runs. It
   * is held only for those few writes, never while waiting for a run, a join or user code, so
   * progress() (which takes no lock at all) and stop() never wait behind a slow final commit.
   */

  private final RunContext<T> context;
  private final Telemetry telemetry;
  private final ReentrantLock stateLock = new ReentrantLock();
  private final Condition processEnded = stateLock.newCondition();
  private final CountDownLatch closeDone = new CountDownLatch(1);
  private volatile boolean closed;

  @GuardedBy("stateLock")
  private boolean closeStarted;

  // written under stateLock, read without it
  private volatile @Nullable ProcessRun<T> process;
  private volatile @Nullable PullSession<T> session;
  private volatile Checkpoint committed;

  OrderedCollector(BatchSource<T> source, CheckpointStore store, CollectorOptions options) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(options, "options");
    this.telemetry = new Telemetry(options.name());
    this.context = new RunContext<>(source, store, options, telemetry, () -> closed);
    Checkpoint loaded;
    try {
      loaded = store.load();
    } catch (VirtualMachineError e) {
      throw e;
    } catch (Throwable e) {
      throw new CheckpointException(
          "collector '"
              + options.name()
              + "' could not load its checkpoint: "
              + e
              + "; nothing was processed. Repair or replace the store; the collector never"
              + " starts over from the beginning on its own",
          null,
          e);
    }
    this.committed = loaded == null ? Checkpoint.INITIAL : loaded;
  }

  @Override
  public String name() {
    return context.name();
  }

  // ---- process ------------------------------------------------------------------------------

  @Override
  public ProcessSummary process(int depth, BatchHandler<T> handler) throws InterruptedException {
    CollectorOptions.checkDepth(depth);
    Objects.requireNonNull(handler, "handler must not be null: pass the work to run per batch");
    ProcessRun<T> run;
    stateLock.lock();
    try {
      checkNotReentrant("process()");
      checkNotClosed("process()");
      if (process != null || session != null) {
        throw counted(
            new ConcurrentUseException(
                MisuseException.NO_BATCH,
                "process() called on collector '"
                    + name()
                    + "' while "
                    + (process != null
                        ? "another process() runs; wait for it to return"
                        : "a pull session is active; close() the collector first")
                    + ". A collector serves one run at a time; for parallel runs use one"
                    + " collector per source and checkpoint store"));
      }
      run = new ProcessRun<>(context, depth, committed, handler);
      process = run;
    } finally {
      stateLock.unlock();
    }
    try {
      return run.run();
    } finally {
      stateLock.lock();
      try {
        committed = run.ring().durable();
        process = null;
        processEnded.signalAll();
      } finally {
        stateLock.unlock();
      }
    }
  }

  @Override
  public boolean stop() {
    ProcessRun<T> run = process;
    return run != null && run.stop(context.options().drainTimeout());
  }

  // ---- pull ---------------------------------------------------------------------------------

  @Override
  public @Nullable Delivery<T> next() throws InterruptedException {
    return pull(Long.MAX_VALUE);
  }

  @Override
  public @Nullable Delivery<T> next(Duration timeout) throws InterruptedException {
    return pull(Math.max(0, RunContext.saturatedNanos(timeout)));
  }

  @Override
  public @Nullable Delivery<T> tryNext() {
    try {
      return pull(-1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("tryNext() never waits", e);
    }
  }

  /** nanos: Long.MAX_VALUE waits for ever, -1 never waits. */
  private @Nullable Delivery<T> pull(long nanos) throws InterruptedException {
    long deadline = System.nanoTime() + Math.max(0, nanos);
    while (true) {
      PullSession<T> s = sessionForPull();
      long left =
          nanos == Long.MAX_VALUE || nanos < 0 ? nanos : Math.max(0, deadline - System.nanoTime());
      PullDelivery<T> delivery = s.take(left);
      if (delivery != null) {
        return delivery;
      }
      Lifecycle.Failure failure = s.lifecycle().failure();
      if (failure == null) {
        if (closed) {
          throw counted(closedException("next()"));
        }
        if (s.lifecycle().isRunning()) {
          return null; // exhausted, or nothing in time
        }
        continue; // the session ended without a failure: start the next one
      }
      boolean reporter = s.claimReport();
      s.end();
      retire(s);
      if (reporter) {
        throw context.toException(failure, s.ring().durable(), s.lifecycle().laterFailures());
      }
      // another caller reports this failure; continue on a new session
    }
  }

  private PullSession<T> sessionForPull() {
    stateLock.lock();
    try {
      checkNotReentrant("next()");
      checkNotClosed("next()");
      if (process != null) {
        throw counted(
            new ConcurrentUseException(
                MisuseException.NO_BATCH,
                "next() called on collector '"
                    + name()
                    + "' while process() runs; use one or"
                    + " the other, or a second collector with its own checkpoint store"));
      }
      PullSession<T> s = session;
      if (s == null) {
        s = new PullSession<>(context, committed);
        session = s;
        s.start();
      }
      return s;
    } finally {
      stateLock.unlock();
    }
  }

  private void retire(PullSession<T> s) {
    stateLock.lock();
    try {
      if (session == s) {
        committed = s.ring().durable();
        session = null;
      }
    } finally {
      stateLock.unlock();
    }
  }

  @Override
  public boolean isExhausted() {
    PullSession<T> s = session;
    return s != null && s.isExhausted();
  }

  @Override
  public Checkpoint awaitCommitted() throws InterruptedException {
    ProcessRun<T> run = process;
    if (run != null) {
      return run.awaitCommitted();
    }
    PullSession<T> s = session;
    return s == null ? committed : s.awaitCommitted();
  }

  // ---- common -------------------------------------------------------------------------------

  @Override
  public Registration listen(CollectorListener listener) {
    Objects.requireNonNull(listener, "listener must not be null");
    Registration registration = telemetry.listen(listener);
    if (registration == null) {
      throw counted(closedException("listen()"));
    }
    return registration;
  }

  @Override
  public Progress progress() {
    ProcessRun<T> run = process;
    if (run != null) {
      return run.progress();
    }
    PullSession<T> s = session;
    if (s != null) {
      return s.progress();
    }
    long at = committed.sequence();
    return Progress.builder().fetched(at).acknowledged(at).committed(at).build();
  }

  @Override
  public void close() {
    ProcessRun<T> run;
    PullSession<T> s;
    boolean first;
    stateLock.lock();
    try {
      checkNotReentrant("close()"); // it would wait for the run that waits for this handler
      first = !closeStarted;
      closeStarted = true;
      closed = true;
      run = process;
      s = session;
    } finally {
      stateLock.unlock();
    }
    if (!first) {
      RunContext.awaitUninterruptibly(closeDone); // closing again waits for the first close
      return;
    }
    RuntimeException failure = null;
    try {
      if (run != null) {
        run.stop(Duration.ZERO);
        awaitProcessEnded();
      }
      if (s != null) {
        s.end();
        retire(s);
        if (s.committer().failed()) {
          failure = s.commitFailure();
        }
      }
    } finally {
      try {
        telemetry.closed(); // the binder removes its meters; a VirtualMachineError propagates
      } finally {
        closeDone.countDown(); // ...and a racing or later close() still returns
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private void awaitProcessEnded() {
    stateLock.lock();
    try {
      while (process != null) {
        processEnded.awaitUninterruptibly();
      }
    } finally {
      stateLock.unlock();
    }
  }

  @GuardedBy("stateLock")
  private void checkNotClosed(String call) {
    if (closed) {
      throw counted(closedException(call));
    }
  }

  private CollectorClosedException closedException(String call) {
    return new CollectorClosedException(
        MisuseException.NO_BATCH,
        call
            + " on collector '"
            + name()
            + "' after close(). Open a new collector on the same"
            + " checkpoint store; it resumes at the committed checkpoint and delivers"
            + " unacknowledged batches again");
  }

  private void checkNotReentrant(String call) {
    Thread current = Thread.currentThread();
    ProcessRun<T> run = process;
    if (run != null) {
      long sequence = run.batchRunBy(current);
      if (sequence >= 0) {
        throw counted(
            new ReentrantCallException(
                sequence,
                call
                    + " called from the handler of batch "
                    + sequence
                    + " of collector '"
                    + name()
                    + "': it would wait for a window slot that only this handler's"
                    + " return can free. Return from the handler instead; to read another"
                    + " source, use a second collector"));
      }
    }
    PullSession<T> s = session;
    if ((run != null && run.runsOn(current)) || (s != null && s.runsOn(current))) {
      throw counted(
          new ReentrantCallException(
              MisuseException.NO_BATCH,
              call
                  + " called on collector '"
                  + name()
                  + "' from one of its own threads (in the"
                  + " checkpoint store's commit, the source's next() or a telemetry listener):"
                  + " it would wait for the run that waits for this call. Call it from"
                  + " another thread"));
    }
  }

  private <E extends MisuseException> E counted(E e) {
    telemetry.misuse(e);
    return e;
  }

  @Override
  public String toString() {
    return "Collector[" + name() + " " + progress() + "]";
  }
}
