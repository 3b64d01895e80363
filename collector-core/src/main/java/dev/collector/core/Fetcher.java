package dev.collector.core;

import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Reads a run's source from one thread: opens the reader at the run's start, retries a failed open
 * or read per {@link dev.collector.CollectorOptions#fetchRetry()} (reopening at the last fetched
 * position, since a reader that threw may be in any state), and can be interrupted out of a blocked
 * read when the run stops. Invariant: an interrupt sent by {@link #interruptIfFetching()} reaches
 * the fetching thread only while it is inside a source call.
 */
final class Fetcher<T> {

  /*
   * Handshake: the fetching thread marks FETCHING around source calls. A thread that changed
   * the lifecycle CASes FETCHING -> INTERRUPTING, interrupts, and sets FETCHING back. The
   * fetching thread leaves with a CAS FETCHING -> IDLE, spinning over an interrupt in progress,
   * and then clears its interrupt status: the interrupt was ours and has been seen. So the
   * fetching thread never carries a stray interrupt into anything else (a commit, a join).
   */

  private static final int IDLE = 0;
  private static final int FETCHING = 1;
  private static final int INTERRUPTING = 2;

  private final RunContext<T> context;
  private final SlotRing ring;
  private final Lifecycle lifecycle;
  private final Wakeup wakeup;
  private final AtomicInteger state = new AtomicInteger(IDLE);
  private String position;
  private @Nullable SourceReader<T> reader;
  private boolean exhausted;

  /**
   * @param wakeup the fetching thread's wake-up, used while it waits out a retry backoff
   */
  Fetcher(RunContext<T> context, SlotRing ring, Lifecycle lifecycle, Wakeup wakeup) {
    this.context = context;
    this.ring = ring;
    this.lifecycle = lifecycle;
    this.wakeup = wakeup;
    this.position = ring.start().resumeToken();
  }

  /** Whether the source said it has nothing more. */
  boolean exhausted() {
    return exhausted;
  }

  /**
   * Reads the next batch, retrying failures. A failure that outlasts the retries is recorded in the
   * lifecycle.
   *
   * @return the batch, or {@code null} when the source is exhausted, the lifecycle left RUNNING, or
   *     fetching failed for good
   */
  @Nullable SourceBatch<T> fetch() {
    Retry retry = context.options().fetchRetry();
    int failures = 0;
    while (lifecycle.isRunning()) {
      long started = System.nanoTime();
      SourceBatch<T> next;
      try {
        next = read();
      } catch (Throwable t) {
        context.closeQuietly(reader);
        reader = null;
        failures++;
        if (!lifecycle.isRunning() || failures >= retry.maxAttempts()) {
          lifecycle.sourceFailed(ring.fetched(), t);
          return null;
        }
        waitUnlessStopped(
            context.backoffAfter(retry, failures, "fetching batch " + ring.fetched(), t));
        continue;
      }
      if (next == null) {
        exhausted = true;
        return null;
      }
      position = next.resumeToken();
      context
          .telemetry()
          .fetched(ring.fetchedByFetcher(), next.records().size(), System.nanoTime() - started);
      return next;
    }
    return null;
  }

  private @Nullable SourceBatch<T> read() throws Exception {
    state.set(FETCHING);
    try {
      if (!lifecycle.isRunning()) {
        throw new InterruptedException("the run is ending");
      }
      SourceReader<T> r = reader;
      if (r == null) {
        r = context.source().open(position);
        reader = r;
      }
      return r.next();
    } finally {
      while (!state.compareAndSet(FETCHING, IDLE)) {
        Thread.onSpinWait(); // an interrupt is being delivered; it is ours, cleared below
      }
      Thread.interrupted();
    }
  }

  /** Interrupts a blocked source call; called by whoever changed the lifecycle. */
  void interruptIfFetching() {
    if (state.compareAndSet(FETCHING, INTERRUPTING)) {
      wakeup.waiter().interrupt();
      state.set(FETCHING);
    }
  }

  private void waitUnlessStopped(Duration duration) {
    long deadline = System.nanoTime() + RunContext.saturatedNanos(duration);
    for (long left; (left = deadline - System.nanoTime()) > 0 && lifecycle.isRunning(); ) {
      wakeup.arm();
      if (lifecycle.isRunning()) {
        wakeup.parkNanos(left);
      }
      wakeup.disarm();
    }
  }

  /** Closes the reader, if open; logs a failure. */
  void close() {
    context.closeQuietly(reader);
    reader = null;
  }
}
