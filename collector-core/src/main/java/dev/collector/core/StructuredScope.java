package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A structured task scope with the JDK 25 {@code StructuredTaskScope} contract, built on final JDK
 * 21 APIs (the JDK's scope is a preview API). Subtasks run on virtual threads of a thread-per-task
 * executor, so they show up grouped in JDK thread dumps.
 *
 * <p>Owner-confined: only the thread that created the scope may {@link #fork}, {@link #join} and
 * {@link #close}; others get {@link WrongThreadException}. {@link #cancel()} may be called from any
 * thread. Not reusable.
 */
final class StructuredScope implements AutoCloseable {

  /*
   * Semantics (JDK 25 StructuredTaskScope with the default "all successful or throw" joiner):
   *  - fork starts the task at once on a new virtual thread. After cancellation fork still
   *    returns a subtask, in state UNAVAILABLE, and runs nothing. fork after join or close is an
   *    IllegalStateException.
   *  - The first subtask to fail cancels the scope: the other subtasks are interrupted, new forks
   *    are refused and join wakes up. join then throws FailedException with that failure as
   *    cause. Unlike the JDK, failures that complete afterwards (other than interrupts caused by
   *    the cancellation) are attached to it as suppressed, so nothing is silently dropped.
   *  - join waits until every subtask completed or the scope was cancelled; it may be called
   *    once. An interrupt of the owner during join throws InterruptedException.
   *  - close cancels the scope if join did not complete, then waits for every subtask thread to
   *    end (uninterruptibly; an interrupt during the wait cancels the scope and is re-asserted
   *    afterwards). If the owner forked but never called join, close throws
   *    IllegalStateException after closing.
   *
   * Thread tracking is the executor's: shutdownNow() interrupts every started thread and makes
   * it refuse new ones, close() waits for all of them. The scope's own lock only guards the
   * count of unfinished subtasks and the failure, so join can wake on "all done" or "cancelled".
   *
   * "Ended" means terminated (Thread.isAlive() is false), not merely "task returned": the
   * executor counts a task complete a few instructions before its thread terminates. So each
   * subtask thread, as its last act, swaps itself into `lastToFinish` and joins the thread it
   * replaced; close() joins the last one. The chain makes every earlier thread terminate before
   * the one close() joins, in O(1) memory whatever the number of subtasks (a list of threads to
   * join would retain every thread of a long run).
   */

  private static final int OPEN = 0;
  private static final int FORKED = 1;
  private static final int JOIN_STARTED = 2;
  private static final int JOINED = 3;
  private static final int CLOSED = 4;

  private final Thread owner = Thread.currentThread();
  private final ExecutorService executor;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition doneOrCancelled = lock.newCondition();
  private final AtomicReference<@Nullable Thread> lastToFinish = new AtomicReference<>();
  private String nextThreadName = "";

  // owner-confined
  private int state = OPEN;

  @GuardedBy("lock")
  private int unfinished;

  @GuardedBy("lock")
  private boolean cancelled;

  @GuardedBy("lock")
  private @Nullable Throwable failure;

  StructuredScope() {
    var builder = Thread.ofVirtual();
    // Threads are created synchronously in fork, on the owner thread, which sets the name first.
    this.executor =
        Executors.newThreadPerTaskExecutor(task -> builder.name(nextThreadName).unstarted(task));
  }

  /** The state of a forked subtask, as in the JDK's {@code Subtask.State}. */
  enum SubtaskState {
    UNAVAILABLE,
    SUCCESS,
    FAILED
  }

  /** A forked task's handle. {@link #get()} may be called once the owner joined. */
  static final class Subtask<R> implements Supplier<R> {
    private volatile SubtaskState state = SubtaskState.UNAVAILABLE;
    private @Nullable R result;
    private @Nullable Throwable exception;

    SubtaskState state() {
      return state;
    }

    @Override
    public R get() {
      if (state != SubtaskState.SUCCESS) {
        throw new IllegalStateException("subtask is " + state + ", not SUCCESS");
      }
      return resultOf(this);
    }

    @SuppressWarnings("NullAway") // set by a successful call(); null only where R is nullable
    private static <R> R resultOf(Subtask<R> subtask) {
      return subtask.result;
    }

    Throwable exception() {
      Throwable e = exception;
      if (state != SubtaskState.FAILED || e == null) {
        throw new IllegalStateException("subtask is " + state + ", not FAILED");
      }
      return e;
    }
  }

  /** Thrown by {@link #join()} when a subtask failed; the cause is the first failure. */
  static final class FailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    FailedException(Throwable cause) {
      super(cause);
    }
  }

  /**
   * Starts {@code task} on a new virtual thread named {@code threadName}.
   *
   * @return the subtask; UNAVAILABLE forever if the scope was already cancelled
   * @throws WrongThreadException if not called by the owner
   * @throws IllegalStateException if the owner already joined or closed the scope
   */
  <R> Subtask<R> fork(String threadName, Callable<? extends R> task) {
    ensureOwner();
    if (state > FORKED) {
      throw new IllegalStateException("Already joined or scope is closed");
    }
    state = FORKED;
    Subtask<R> subtask = new Subtask<>();
    lock.lock();
    try {
      if (cancelled) {
        return subtask;
      }
      unfinished++;
    } finally {
      lock.unlock();
    }
    nextThreadName = threadName;
    try {
      executor.execute(() -> run(subtask, task));
    } catch (RejectedExecutionException cancelledMeanwhile) {
      onDone(null);
    }
    return subtask;
  }

  private <R> void run(Subtask<R> subtask, Callable<? extends R> task) {
    Throwable thrown = null;
    try {
      subtask.result = task.call();
      subtask.state = SubtaskState.SUCCESS;
    } catch (Throwable t) {
      thrown = t;
      subtask.exception = t;
      subtask.state = SubtaskState.FAILED;
    } finally {
      Thread previous = lastToFinish.getAndSet(Thread.currentThread());
      onDone(thrown);
      if (previous != null) {
        joinUninterruptibly(previous);
      }
    }
  }

  /** Waits for {@code thread} to terminate; an interrupt meanwhile is re-asserted after. */
  static void joinUninterruptibly(Thread thread) {
    boolean interrupted = false;
    while (true) {
      try {
        thread.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void onDone(@Nullable Throwable thrown) {
    boolean cancelNow = false;
    lock.lock();
    try {
      unfinished--;
      if (thrown != null) {
        if (failure == null) {
          failure = thrown;
          cancelNow = true;
        } else if (!Lifecycle.causedByInterrupt(thrown)) {
          failure.addSuppressed(thrown);
        }
      }
      if (unfinished == 0) {
        doneOrCancelled.signalAll();
      }
    } finally {
      lock.unlock();
    }
    if (cancelNow) {
      cancel();
    }
  }

  /**
   * Waits until every subtask completed or the scope was cancelled.
   *
   * @throws FailedException if a subtask failed (the first failure is the cause)
   * @throws InterruptedException if the owner was interrupted while waiting
   * @throws WrongThreadException if not called by the owner
   * @throws IllegalStateException if called twice or after close
   */
  void join() throws InterruptedException {
    ensureOwner();
    if (state > FORKED) {
      throw new IllegalStateException("Already joined or scope is closed");
    }
    state = JOIN_STARTED;
    Throwable failed;
    lock.lockInterruptibly();
    try {
      while (unfinished > 0 && !cancelled) {
        doneOrCancelled.await();
      }
      failed = failure;
    } finally {
      lock.unlock();
    }
    state = JOINED;
    if (failed != null) {
      throw new FailedException(failed);
    }
  }

  /**
   * Cancels the scope: interrupts every unfinished subtask, refuses new forks and wakes {@link
   * #join()}. Idempotent; any thread may call it.
   */
  void cancel() {
    lock.lock();
    try {
      if (cancelled) {
        return;
      }
      cancelled = true;
      doneOrCancelled.signalAll();
    } finally {
      lock.unlock();
    }
    executor.shutdownNow();
  }

  boolean isCancelled() {
    lock.lock();
    try {
      return cancelled;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Cancels the scope unless join completed, then waits for every subtask thread to end. The
   * owner's interrupt status is restored after the wait.
   *
   * @throws IllegalStateException after closing, if the owner forked and never joined
   */
  @Override
  public void close() {
    ensureOwner();
    int s = state;
    if (s == CLOSED) {
      return;
    }
    if (s < JOINED) {
      cancel();
    }
    try {
      executor.close(); // waits for all tasks; re-asserts an interrupt that came meanwhile
      Thread last = lastToFinish.get();
      if (last != null) {
        joinUninterruptibly(last); // and through the chain, for every thread to terminate
      }
    } finally {
      state = CLOSED;
    }
    if (s == FORKED) {
      throw new IllegalStateException("Owner did not join after forking");
    }
  }

  private void ensureOwner() {
    if (Thread.currentThread() != owner) {
      throw new WrongThreadException(
          "only the scope owner " + owner + " may fork, join or close this scope");
    }
  }
}
