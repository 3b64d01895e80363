package dev.collector.core;

import dev.collector.BatchFailedException;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.CollectorException;
import dev.collector.CollectorOptions;
import dev.collector.Retry;
import dev.collector.SourceException;
import dev.collector.SourceReader;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * What every run of one collector shares: its source, store, options and telemetry, and the
 * messages it writes. Immutable; thread-safe.
 *
 * @param <T> the record type
 */
final class RunContext<T> {

  /*
   * Log lines are built by concatenation, never with System.Logger's MessageFormat parameters,
   * where a single quote is an escape character (a name in quotes would come out doubled).
   */

  static final System.Logger LOG = System.getLogger(dev.collector.Collector.class.getName());

  private final String name;
  private final BatchSource<T> source;
  private final CheckpointStore store;
  private final CollectorOptions options;
  private final Telemetry telemetry;
  private final BooleanSupplier closed;

  RunContext(
      BatchSource<T> source,
      CheckpointStore store,
      CollectorOptions options,
      Telemetry telemetry,
      BooleanSupplier closed) {
    this.name = options.name();
    this.source = source;
    this.store = store;
    this.options = options;
    this.telemetry = telemetry;
    this.closed = closed;
  }

  /** Whether the collector was closed (deliveries check it). */
  BooleanSupplier closedCheck() {
    return closed;
  }

  String name() {
    return name;
  }

  BatchSource<T> source() {
    return source;
  }

  CheckpointStore store() {
    return store;
  }

  CollectorOptions options() {
    return options;
  }

  Telemetry telemetry() {
    return telemetry;
  }

  /** The jittered delay before the next attempt of a fetch or commit, logged at WARNING. */
  Duration backoffAfter(Retry retry, int failedAttempts, String what, Throwable cause) {
    Duration backoff = retry.delay(failedAttempts, ThreadLocalRandom.current());
    log(
        Level.WARNING,
        "collector '"
            + name
            + "': "
            + what
            + " failed (attempt "
            + failedAttempts
            + " of "
            + retry.maxAttempts()
            + "), retrying in "
            + backoff.toMillis()
            + " ms: "
            + cause);
    return backoff;
  }

  /** Logs, never throwing: a broken logging backend must not break a run. */
  static void log(Level level, String message) {
    try {
      LOG.log(level, message);
    } catch (RuntimeException ignored) {
      // nowhere left to report it
    }
  }

  /** Logs with a stack trace, never throwing. */
  static void log(Level level, String message, Throwable thrown) {
    try {
      LOG.log(level, message, thrown);
    } catch (RuntimeException ignored) {
      // nowhere left to report it
    }
  }

  void closeQuietly(@Nullable SourceReader<T> reader) {
    if (reader == null) {
      return;
    }
    try {
      reader.close();
    } catch (Exception e) {
      log(Level.WARNING, "collector '" + name + "': closing the source reader failed", e);
    }
  }

  /** The exception a run that ended with {@code failure} throws. */
  CollectorException toException(
      Lifecycle.Failure f, Checkpoint durable, Iterable<Throwable> later) {
    CollectorException e =
        switch (f.kind()) {
          case HANDLER -> new BatchFailedException(name, f.sequence(), f.cause(), durable);
          case SOURCE -> new SourceException(name, f.sequence(), durable, f.cause());
          case COMMIT ->
              new CheckpointException(
                  "collector '"
                      + name
                      + "' could not commit the checkpoint at sequence "
                      + f.sequence()
                      + ": "
                      + f.cause()
                      + "; the durable checkpoint is sequence "
                      + durable.sequence()
                      + " ("
                      + durable
                      + "), a new run resumes there",
                  durable,
                  f.cause());
        };
    for (Throwable t : f.suppressed()) {
      addSuppressedSafely(e, t);
    }
    for (Throwable t : later) {
      addSuppressedSafely(e, t);
    }
    return e;
  }

  static void addSuppressedSafely(Throwable to, Throwable t) {
    if (t != to && t != to.getCause()) {
      to.addSuppressed(t);
    }
  }

  /** {@code d} in nanoseconds, saturated to the range of a long. */
  static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException overflow) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  /** Sleeps, ignoring interrupts but keeping the interrupt status for the caller. */
  static void sleepUninterruptibly(Duration duration) {
    long deadline = System.nanoTime() + saturatedNanos(duration);
    boolean interrupted = false;
    for (long left; (left = deadline - System.nanoTime()) > 0; ) {
      LockSupport.parkNanos(left);
      if (Thread.interrupted()) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Waits for {@code latch}, ignoring interrupts but keeping the interrupt status. */
  static void awaitUninterruptibly(java.util.concurrent.CountDownLatch latch) {
    boolean interrupted = false;
    while (true) {
      try {
        latch.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
