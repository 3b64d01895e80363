package dev.collector.core;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * The state of one run (a {@code process} call or a pull session) and the failures that end it.
 * Invariant: the state only moves forward, {@code RUNNING -> STOPPING -> CANCELLING -> FINALIZING
 * -> DONE} (steps may be skipped), and the first failure that is not an echo of the run's own
 * cancellation is kept as the run's failure; every later one is kept as suppressed.
 *
 * <p>Thread-safe without locks. Every state change calls the run's wake-up action once.
 */
final class Lifecycle {

  /*
   * States and what they mean:
   *   RUNNING     fetching and handing out batches.
   *   STOPPING    stop() or close(): no more fetches; running batches may finish until the
   *               drain deadline.
   *   CANCELLING  a failure, an interrupt of the caller, or the drain deadline: running
   *               handlers are interrupted and their batches left unsettled.
   *   FINALIZING  every handler thread has ended; the committer makes the final commit. It is
   *               never cancelled: an interrupt now still gets the acknowledged prefix committed.
   *   DONE        the final commit returned or failed; the outcome is fixed.
   *
   * Which failures do not become the run's failure (the only ones):
   *   - a handler failure once the run is CANCELLING: the run gives its running batches up, so
   *     the batch stays unsettled and is delivered again by the next run. If it was caused by
   *     an interrupt it is the echo of our own cancellation and dropped; otherwise it is kept
   *     as suppressed for whatever the run throws (a stop() still returns its summary);
   *   - a fetch failure once the run left RUNNING: fetching was stopping anyway (the run
   *     interrupts a blocked fetch to stop it); the same rule.
   * Commit failures are always recorded (G9), whatever the state, and a handler that
   * interrupts itself and throws while the run is RUNNING fails normally (its interrupt status
   * is cleared before a retry). Pull deliveries are never interrupted by the run: their
   * failures are always recorded.
   */

  enum State {
    RUNNING,
    STOPPING,
    CANCELLING,
    FINALIZING,
    DONE
  }

  enum Kind {
    HANDLER,
    SOURCE,
    COMMIT
  }

  /**
   * The failure that ended a run.
   *
   * @param kind whose failure
   * @param sequence the batch it concerns (fetched, failed or committed)
   * @param cause the exception
   * @param suppressed exceptions to attach to what the run throws (e.g. the handler's failure when
   *     the dead-letter handler threw in turn)
   */
  record Failure(Kind kind, long sequence, Throwable cause, List<Throwable> suppressed) {}

  private static final long CENTURY_NANOS = 100L * 365 * 24 * 3600 * 1_000_000_000L;

  private final AtomicReference<State> state = new AtomicReference<>(State.RUNNING);
  private final AtomicReference<@Nullable Failure> failure = new AtomicReference<>();
  private final ConcurrentLinkedQueue<Throwable> later = new ConcurrentLinkedQueue<>();
  private final Runnable onChange;
  private volatile long drainDeadline;
  private volatile boolean drainBounded;
  private volatile boolean stopped;
  private volatile boolean interrupted;

  Lifecycle(Runnable onChange) {
    this.onChange = onChange;
  }

  State state() {
    return state.get();
  }

  boolean isRunning() {
    return state.get() == State.RUNNING;
  }

  /** True from CANCELLING on: running batches are being given up. */
  boolean isCancelling() {
    return state.get().compareTo(State.CANCELLING) >= 0;
  }

  /** Whether {@link #stop} ended fetching (the run did not reach the end of the source). */
  boolean wasStopped() {
    return stopped;
  }

  /** Whether the caller of the run was interrupted (G5: the run throws InterruptedException). */
  boolean wasInterrupted() {
    return interrupted;
  }

  /** The drain deadline in {@link System#nanoTime()} terms; see {@link #drainBounded()}. */
  long drainDeadline() {
    return drainDeadline;
  }

  /** Whether stop() set a drain deadline (a drain timeout of a century or more sets none). */
  boolean drainBounded() {
    return drainBounded;
  }

  /**
   * Stops fetching; running batches may finish for {@code drainNanos}.
   *
   * @return {@code true} if the run had not yet reached its final commit (it is stopping or already
   *     ending), {@code false} if it had
   */
  boolean stop(long drainNanos) {
    while (true) {
      State s = state.get();
      if (s.compareTo(State.FINALIZING) >= 0) {
        return false;
      }
      if (s != State.RUNNING) {
        if (drainNanos == 0) {
          cancel(); // close() during a drain: give up at once
        }
        return true;
      }
      drainDeadline = System.nanoTime() + drainNanos;
      drainBounded = drainNanos < CENTURY_NANOS;
      stopped = true;
      if (state.compareAndSet(State.RUNNING, State.STOPPING)) {
        onChange.run();
        return true;
      }
    }
  }

  /**
   * The caller was interrupted: cancel, and end with InterruptedException — unless the run is
   * already DONE (its outcome is fixed; the caller keeps its interrupt status).
   */
  void interrupt() {
    if (state.get() == State.DONE) {
      return;
    }
    interrupted = true;
    cancel();
  }

  /** Moves to CANCELLING unless already there or later. */
  void cancel() {
    while (true) {
      State s = state.get();
      if (s.compareTo(State.CANCELLING) >= 0) {
        return;
      }
      if (state.compareAndSet(s, State.CANCELLING)) {
        onChange.run();
        return;
      }
    }
  }

  /** Only the run's owner calls this, once every handler thread has ended. */
  void finalizing() {
    state.set(State.FINALIZING);
  }

  /** Only the run's owner calls this, after the final commit returned or failed. */
  void done() {
    state.set(State.DONE);
    onChange.run();
  }

  /**
   * A batch failed under the failure policy (fail-fast, exhausted retries, or a throwing
   * dead-letter handler).
   *
   * @param suppressed an earlier failure of the same batch to attach, or {@code null}
   */
  void handlerFailed(long sequence, Throwable cause, @Nullable Throwable suppressed) {
    if (isCancelling()) {
      // The run is giving up its running batches anyway: this one stays unsettled and is
      // delivered again. An interrupt-caused failure is the echo of our own cancellation; any
      // other is kept only to be attached to what the run throws for its own reason.
      if (!causedByInterrupt(cause)) {
        later.add(cause);
      }
      return;
    }
    record(Kind.HANDLER, sequence, cause, suppressed);
  }

  /** A pull delivery failed under the policy; the run never interrupts pull callers. */
  void deliveryFailed(long sequence, Throwable cause, @Nullable Throwable suppressed) {
    record(Kind.HANDLER, sequence, cause, suppressed);
  }

  /** Fetching batch {@code sequence} failed for good (after the fetch retries). */
  void sourceFailed(long sequence, Throwable cause) {
    if (!isRunning()) {
      // Fetching was stopping anyway (we may have interrupted it): nothing was lost, no batch
      // was fetched. Kept only to be attached to what the run throws for its own reason.
      if (!causedByInterrupt(cause)) {
        later.add(cause);
      }
      return;
    }
    record(Kind.SOURCE, sequence, cause, null);
  }

  /** Committing the checkpoint at {@code sequence} failed for good. Never dropped. */
  void commitFailed(long sequence, Throwable cause) {
    record(Kind.COMMIT, sequence, cause, null);
  }

  private void record(Kind kind, long sequence, Throwable cause, @Nullable Throwable suppressed) {
    List<Throwable> attached = new ArrayList<>(1);
    if (suppressed != null && suppressed != cause) {
      attached.add(suppressed);
    }
    if (failure.compareAndSet(null, new Failure(kind, sequence, cause, attached))) {
      cancel();
    } else {
      later.add(cause);
    }
  }

  /** The run's failure, or {@code null}. */
  @Nullable Failure failure() {
    return failure.get();
  }

  /** Failures after the first, to attach as suppressed. */
  List<Throwable> laterFailures() {
    return List.copyOf(later);
  }

  /**
   * Whether {@code t} is, or was caused by, an interrupt: {@link InterruptedException}, or its I/O
   * forms ({@link java.nio.channels.ClosedByInterruptException}, {@link
   * java.io.InterruptedIOException}).
   */
  static boolean causedByInterrupt(Throwable t) {
    int depth = 0;
    for (Throwable c = t; c != null && depth < 32; c = c.getCause(), depth++) {
      if (c instanceof InterruptedException
          || c instanceof java.nio.channels.ClosedByInterruptException
          || c instanceof java.io.InterruptedIOException) {
        return true;
      }
    }
    return false;
  }
}
