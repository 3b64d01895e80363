package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * An in-memory checkpoint store that records every commit and checks, on each one, that the
 * checkpoint moves strictly forward and that a test-supplied invariant holds.
 *
 * <p>Thread-safe. A violated check throws from {@link #commit} (the store's own forward check
 * throws {@link AssertionError}; a {@link CommitCheck} may throw {@link AssertionError} or any
 * {@link RuntimeException}), which refuses the commit and fails the run, and the first one is kept
 * so the test can report it from its own thread with {@link #assertNoViolation()}.
 */
public final class RecordingCheckpointStore implements CheckpointStore {

  /** Checked on every commit, before the checkpoint is accepted. */
  @FunctionalInterface
  public interface CommitCheck {
    /**
     * Checks a commit.
     *
     * @param previous the checkpoint before it
     * @param next the checkpoint being committed
     * @throws AssertionError if the commit breaks the test's invariant; any {@link
     *     RuntimeException} is treated the same way: the commit is refused and the exception is
     *     kept for {@link #assertNoViolation()}
     */
    void check(Checkpoint previous, Checkpoint next);
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition committed = lock.newCondition();

  @GuardedBy("lock")
  private final List<Checkpoint> history = new ArrayList<>();

  private final CommitCheck check;

  @GuardedBy("lock")
  private Checkpoint current;

  @GuardedBy("lock")
  private boolean empty;

  @GuardedBy("lock")
  private @Nullable Throwable violation;

  @GuardedBy("lock")
  private long crashAtSequence = Long.MAX_VALUE;

  @GuardedBy("lock")
  private boolean crashed;

  @GuardedBy("lock")
  private int failuresToInject;

  @GuardedBy("lock")
  private Duration commitLatency = Duration.ZERO;

  /** An empty store that checks only that checkpoints move forward. */
  public RecordingCheckpointStore() {
    this(null, (previous, next) -> {});
  }

  /**
   * A store, optionally holding {@code initial} already, that runs {@code check} on each commit.
   *
   * @param initial the checkpoint it already holds, or {@code null} for an empty store
   * @param check the test's invariant
   */
  public RecordingCheckpointStore(@Nullable Checkpoint initial, CommitCheck check) {
    this.current = initial == null ? Checkpoint.INITIAL : initial;
    this.empty = initial == null;
    this.check = check;
  }

  @Override
  public @Nullable Checkpoint load() {
    lock.lock();
    try {
      return empty ? null : current;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void commit(Checkpoint next) throws IOException {
    Duration latency = commitLatency();
    if (!latency.isZero()) {
      try {
        Thread.sleep(latency); // a slow disk, outside the lock so load() stays responsive
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("commit of " + next + " interrupted");
      }
    }
    lock.lock();
    try {
      if (next.sequence() >= crashAtSequence) {
        crashed = true;
      }
      if (crashed) {
        throw new IOException("simulated crash: the store keeps " + current + " for ever");
      }
      if (failuresToInject > 0) {
        failuresToInject--;
        throw new IOException(
            "injected commit failure of " + next + "; the store keeps " + current);
      }
      try {
        if (next.sequence() <= current.sequence() && !empty) {
          throw new AssertionError(
              "checkpoint moved backwards or stood still: " + current + " -> " + next);
        }
        check.check(current, next);
      } catch (AssertionError | RuntimeException e) {
        if (violation == null) {
          violation = e;
        }
        throw e;
      }
      current = next;
      empty = false;
      history.add(next);
      committed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Simulates a crash at the first commit that reaches {@code sequence}: that commit and every
   * later one throw {@link IOException}, so what is durable is frozen just before it. A new
   * collector opened on this store (after {@link #restart()}) resumes from exactly what survived.
   *
   * @param sequence the checkpoint sequence at which the store "dies"; 0 crashes at the first
   *     commit
   */
  public void crashAtSequence(long sequence) {
    lock.lock();
    try {
      crashAtSequence = sequence;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether the simulated crash happened.
   *
   * @return {@code true} once a commit was refused by the crash
   */
  public boolean isCrashed() {
    lock.lock();
    try {
      return crashed;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Makes the next {@code count} commits fail with {@link IOException}, leaving the committed
   * checkpoint unchanged; later commits succeed.
   *
   * @param count how many commits fail
   */
  public void failNextCommits(int count) {
    lock.lock();
    try {
      failuresToInject = count;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Makes every commit take {@code latency} before it is accepted (a slow fsync).
   *
   * @param latency the delay per commit
   */
  public void slowCommits(Duration latency) {
    lock.lock();
    try {
      commitLatency = latency;
    } finally {
      lock.unlock();
    }
  }

  private Duration commitLatency() {
    lock.lock();
    try {
      return commitLatency;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Crashes now: what is durable is frozen and every later commit throws, as if the process had
   * died. Use {@link #restart()} before opening the collector that recovers.
   */
  public void crash() {
    crashAtSequence(0);
  }

  /**
   * Ends the simulated crash: the store accepts commits again, starting from what survived. Use it
   * before opening the collector that recovers.
   */
  public void restart() {
    lock.lock();
    try {
      crashed = false;
      crashAtSequence = Long.MAX_VALUE;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The last committed checkpoint.
   *
   * @return it, or {@link Checkpoint#INITIAL} if nothing was committed
   */
  public Checkpoint current() {
    lock.lock();
    try {
      return current;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Every checkpoint committed, oldest first.
   *
   * @return a copy
   */
  public List<Checkpoint> history() {
    lock.lock();
    try {
      return List.copyOf(history);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the committed sequence reaches {@code sequence}.
   *
   * @param sequence the sequence to reach
   * @param timeout how long to wait
   * @throws AssertionError if it was not reached in time
   * @throws InterruptedException if interrupted
   */
  public void awaitSequence(long sequence, Duration timeout) throws InterruptedException {
    long nanos = timeout.toNanos();
    lock.lock();
    try {
      while (current.sequence() < sequence) {
        if (nanos <= 0) {
          throw new AssertionError(
              "timed out after "
                  + timeout
                  + " waiting for sequence "
                  + sequence
                  + "; committed "
                  + current);
        }
        nanos = committed.awaitNanos(nanos);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Reports the first violated check, if any: an {@link AssertionError} or {@link RuntimeException}
   * thrown by the forward check or the {@link CommitCheck}.
   *
   * @throws AssertionError with the violation as its cause
   */
  public void assertNoViolation() {
    lock.lock();
    try {
      if (violation != null) {
        throw new AssertionError("a commit violated the store's checks", violation);
      }
    } finally {
      lock.unlock();
    }
  }
}
