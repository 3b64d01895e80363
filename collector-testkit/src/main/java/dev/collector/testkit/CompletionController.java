package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Batch;
import dev.collector.BatchHandler;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A handler that holds every batch until the test releases it, so a test scripts the order in which
 * batches finish: {@code release(3); release(1); release(2)}.
 *
 * <p>Wrap your own handler with {@link #wrap(BatchHandler)}, and run the collector in the
 * background with {@link CollectorRun}, which closes it first and never waits for ever:
 *
 * {@snippet class=dev.collector.core.TestkitJavadocExamplesTest region=completionController}
 *
 * <p>Thread-safe. A held handler waits interruptibly: cancelling the run interrupts it and it
 * throws {@link InterruptedException}, as a well-behaved handler does. Releasing a batch before it
 * started is allowed; it then runs straight through.
 *
 * @param <T> the record type
 */
public final class CompletionController<T> implements BatchHandler<T> {

  private enum Verdict {
    RELEASE,
    FAIL
  }

  private final BatchHandler<T> delegate;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();

  @GuardedBy("lock")
  private final SortedSet<Long> started = new TreeSet<>();

  @GuardedBy("lock")
  private final SortedSet<Long> finished = new TreeSet<>();

  @GuardedBy("lock")
  private final Map<Long, Verdict> verdicts = new HashMap<>();

  @GuardedBy("lock")
  private final Map<Long, Exception> failures = new HashMap<>();

  @GuardedBy("lock")
  private boolean releaseAll;

  /** A controller whose released batches do nothing more. */
  public CompletionController() {
    this(batch -> {});
  }

  /**
   * A controller that runs {@code delegate} for a batch once it is released.
   *
   * @param delegate the real handler
   */
  public CompletionController(BatchHandler<T> delegate) {
    this.delegate = delegate;
  }

  @Override
  public void handle(Batch<T> batch) throws Exception {
    hold(batch, delegate);
  }

  /**
   * Your handler, held by this controller: each batch waits until the test releases (or fails) it,
   * then runs {@code handler}. Use it instead of the constructor when the handler is only at hand
   * where the run starts: {@code CollectorRun.start(collector, 8, controller.wrap(sink))}.
   *
   * @param handler the handler under test
   * @return a handler that waits for this controller, then runs {@code handler}
   */
  public BatchHandler<T> wrap(BatchHandler<T> handler) {
    return batch -> hold(batch, handler);
  }

  private void hold(Batch<T> batch, BatchHandler<T> delegate) throws Exception {
    long sequence = batch.sequence();
    Verdict verdict;
    lock.lock();
    try {
      started.add(sequence);
      changed.signalAll();
      while ((verdict = verdicts.get(sequence)) == null && !releaseAll) {
        changed.await();
      }
    } finally {
      lock.unlock();
    }
    try {
      if (verdict == Verdict.FAIL) {
        Exception cause;
        lock.lock();
        try {
          cause = failures.get(sequence);
        } finally {
          lock.unlock();
        }
        throw cause == null ? new IllegalStateException("no failure for " + sequence) : cause;
      }
      delegate.handle(batch);
    } finally {
      lock.lock();
      try {
        finished.add(sequence);
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Lets batch {@code sequence} finish successfully (now, or as soon as it starts).
   *
   * @param sequence the batch
   */
  public void release(long sequence) {
    decide(sequence, Verdict.RELEASE, null);
  }

  /**
   * Makes batch {@code sequence} throw {@code cause} (now, or as soon as it starts).
   *
   * @param sequence the batch
   * @param cause what its handler throws
   */
  public void fail(long sequence, Exception cause) {
    decide(sequence, Verdict.FAIL, cause);
  }

  /** Releases every held batch and every batch that starts from now on. */
  public void releaseAll() {
    lock.lock();
    try {
      releaseAll = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void decide(long sequence, Verdict verdict, @Nullable Exception cause) {
    lock.lock();
    try {
      if (verdicts.putIfAbsent(sequence, verdict) != null) {
        throw new IllegalStateException("batch " + sequence + " was already released or failed");
      }
      if (cause != null) {
        failures.put(sequence, cause);
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until batch {@code sequence}'s handler started.
   *
   * @param sequence the batch
   * @param timeout how long to wait
   * @throws AssertionError if it did not start in time
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitStarted(long sequence, Duration timeout) throws InterruptedException {
    await(
        timeout,
        (started, finished) -> started.contains(sequence),
        "batch " + sequence + " to start");
  }

  /**
   * Waits until batch {@code sequence}'s handler returned or threw.
   *
   * @param sequence the batch
   * @param timeout how long to wait
   * @throws AssertionError if it did not finish in time
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitFinished(long sequence, Duration timeout) throws InterruptedException {
    await(
        timeout,
        (started, finished) -> finished.contains(sequence),
        "batch " + sequence + " to finish");
  }

  /** A condition on the started and finished batches, tested under the lock. */
  @FunctionalInterface
  private interface Done {
    boolean test(SortedSet<Long> started, SortedSet<Long> finished);
  }

  // The condition gets the guarded sets as arguments rather than reading the fields: it runs
  // under the lock, in await(), but a lambda's body cannot show Error Prone that it does.
  private void await(Duration timeout, Done done, String what) throws InterruptedException {
    long nanos = timeout.toNanos();
    lock.lock();
    try {
      while (!done.test(started, finished)) {
        if (nanos <= 0) {
          throw new AssertionError(
              "timed out after "
                  + timeout
                  + " waiting for "
                  + what
                  + "; started="
                  + started
                  + " finished="
                  + finished);
        }
        nanos = changed.awaitNanos(nanos);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The batches whose handler started, in sequence order.
   *
   * @return a copy
   */
  public SortedSet<Long> started() {
    lock.lock();
    try {
      return new TreeSet<>(started);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until at least {@code count} batches started, e.g. until the window is full.
   *
   * @param count how many batches must have started
   * @param timeout how long to wait
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitStartedCount(int count, Duration timeout) throws InterruptedException {
    await(timeout, (started, finished) -> started.size() >= count, count + " batches to start");
  }
}
