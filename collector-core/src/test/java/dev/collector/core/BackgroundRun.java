package dev.collector.core;

import dev.collector.BatchHandler;
import dev.collector.Collector;
import dev.collector.ProcessSummary;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Runs {@code process} on a thread of its own so a test can act while it runs. */
final class BackgroundRun {
  final Thread owner;
  private final CompletableFuture<ProcessSummary> result = new CompletableFuture<>();

  /** Whether the owner's interrupt status was set when process threw InterruptedException. */
  volatile boolean interruptStatusKept;

  private <T> BackgroundRun(Collector<T> collector, int depth, BatchHandler<T> handler) {
    owner =
        Thread.ofPlatform()
            .name("test-owner")
            .unstarted(
                () -> {
                  try {
                    result.complete(collector.process(depth, handler));
                  } catch (InterruptedException e) {
                    interruptStatusKept = Thread.currentThread().isInterrupted();
                    result.completeExceptionally(e);
                  } catch (Throwable t) {
                    result.completeExceptionally(t);
                  }
                });
    owner.start();
  }

  static <T> BackgroundRun start(Collector<T> collector, int depth, BatchHandler<T> handler) {
    return new BackgroundRun(collector, depth, handler);
  }

  ProcessSummary await(Duration timeout) throws Exception {
    try {
      return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("process() threw", e.getCause());
    } finally {
      joinOwner(timeout);
    }
  }

  Throwable awaitFailure(Duration timeout) throws Exception {
    try {
      ProcessSummary s = result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      throw new AssertionError("process() returned " + s + " but was expected to throw");
    } catch (ExecutionException e) {
      return e.getCause();
    } finally {
      joinOwner(timeout);
    }
  }

  /** The outcome is set a few instructions before the thread ends: leak checks come after. */
  private void joinOwner(Duration timeout) throws InterruptedException {
    if (result.isDone()) {
      owner.join(timeout);
    }
  }

  boolean isDone() {
    return result.isDone();
  }
}
