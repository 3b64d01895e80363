package dev.collector.testkit;

import dev.collector.BatchHandler;
import dev.collector.Collector;
import dev.collector.ProcessSummary;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * {@link Collector#process} running in the background, so a test can act (release batches, stop,
 * crash the store) while it runs. Every wait has a timeout, and {@link #close()} ends the run
 * before anything else: it interrupts the process() thread (the run cancels, held handlers are
 * interrupted), waits at most {@link #DEFAULT_TIMEOUT} for it, then closes the collector. A run
 * that does not end in time fails the test with the thread's stack instead of hanging the build.
 *
 * {@snippet class=dev.collector.core.TestkitJavadocExamplesTest region=collectorRun}
 *
 * <p>Thread-safe.
 */
public final class CollectorRun implements AutoCloseable {

  /** How long {@link #await()}, {@link #awaitFailure()} and {@link #close()} wait: 30 seconds. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final Collector<?> collector;
  private final Thread thread;
  private final CompletableFuture<ProcessSummary> result = new CompletableFuture<>();

  private <T> CollectorRun(Collector<T> collector, int depth, BatchHandler<T> handler) {
    this.collector = collector;
    this.thread =
        Thread.ofPlatform()
            .daemon()
            .name("test-process-" + collector.name())
            .unstarted(
                () -> {
                  try {
                    result.complete(collector.process(depth, handler));
                  } catch (Throwable t) {
                    result.completeExceptionally(t);
                  }
                });
  }

  /**
   * Starts {@code collector.process(depth, handler)} on a thread of its own.
   *
   * @param collector the collector; {@link #close()} closes it
   * @param depth the depth
   * @param handler the handler, e.g. {@code controller.wrap(yourHandler)}
   * @param <T> the record type
   * @return the running process() call
   */
  public static <T> CollectorRun start(Collector<T> collector, int depth, BatchHandler<T> handler) {
    var run = new CollectorRun(collector, depth, handler);
    run.thread.start();
    return run;
  }

  /**
   * Waits at most {@link #DEFAULT_TIMEOUT} for process() to return.
   *
   * @return its summary
   * @throws AssertionError if it threw (the exception is the cause) or did not return in time
   * @throws InterruptedException if interrupted while waiting
   */
  public ProcessSummary await() throws InterruptedException {
    return await(DEFAULT_TIMEOUT);
  }

  /**
   * Waits at most {@code timeout} for process() to return.
   *
   * @param timeout how long to wait
   * @return its summary
   * @throws AssertionError if it threw (the exception is the cause) or did not return in time
   * @throws InterruptedException if interrupted while waiting
   */
  public ProcessSummary await(Duration timeout) throws InterruptedException {
    try {
      return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(
          "process() of '" + collector.name() + "' threw " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw notEnded(timeout);
    }
  }

  /**
   * Waits at most {@link #DEFAULT_TIMEOUT} for process() to throw.
   *
   * @return what it threw
   * @throws AssertionError if it returned normally or did not end in time
   * @throws InterruptedException if interrupted while waiting
   */
  public Throwable awaitFailure() throws InterruptedException {
    return awaitFailure(DEFAULT_TIMEOUT);
  }

  /**
   * Waits at most {@code timeout} for process() to throw.
   *
   * @param timeout how long to wait
   * @return what it threw
   * @throws AssertionError if it returned normally or did not end in time
   * @throws InterruptedException if interrupted while waiting
   */
  public Throwable awaitFailure(Duration timeout) throws InterruptedException {
    ProcessSummary summary;
    try {
      summary = result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      return cause == null ? e : cause;
    } catch (TimeoutException e) {
      throw notEnded(timeout);
    }
    throw new AssertionError(
        "process() of '" + collector.name() + "' returned " + summary + ", expected it to throw");
  }

  /**
   * Whether process() has returned or thrown.
   *
   * @return {@code true} once it ended
   */
  public boolean isDone() {
    return result.isDone();
  }

  /**
   * Ends the run if it is still going (interrupts the process() thread, which cancels the run),
   * waits at most {@link #DEFAULT_TIMEOUT} for it, then closes the collector. Safe to call twice.
   *
   * @throws AssertionError if process() did not end in time (with its thread's stack)
   */
  @Override
  public void close() {
    if (!result.isDone()) {
      thread.interrupt();
    }
    boolean interrupted = false;
    long deadline = System.nanoTime() + DEFAULT_TIMEOUT.toNanos();
    while (thread.isAlive()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
        throw notEnded(DEFAULT_TIMEOUT);
      }
      try {
        thread.join(Duration.ofNanos(left));
      } catch (InterruptedException e) {
        interrupted = true; // keep waiting: leaving the run behind would leak it
      }
    }
    try {
      collector.close();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Runs {@code action} when process() ended (at once if it has). */
  void onEnd(Runnable action) {
    var unused = result.whenComplete((summary, failure) -> action.run());
  }

  /** The outcome of process(). */
  CompletableFuture<ProcessSummary> result() {
    return result;
  }

  private AssertionError notEnded(Duration timeout) {
    String stack =
        Arrays.stream(thread.getStackTrace()).map(f -> "\n\tat " + f).collect(Collectors.joining());
    return new AssertionError(
        "process() of '"
            + collector.name()
            + "' did not end within "
            + timeout
            + "; does a"
            + " handler ignore interrupts? The process() thread:"
            + stack);
  }
}
