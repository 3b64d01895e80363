package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Deterministic reproductions of what {@link ProcessStormTest} and {@link PullStormTest} found in
 * the v2 engine, ordered with latches. Each fails on the engine as of commit ad8281f.
 */
@ExtendWith(CollectorLeakCheck.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class StormFindingsTest {

  /** A source of {@code batches} batches that counts down {@code end} when it returns null. */
  private static BatchSource<Long> signallingEnd(long batches, CountDownLatch end) {
    FakeSource<Long> fake = FakeSource.generated(batches, 1);
    return token -> {
      SourceReader<Long> reader = fake.open(token);
      return new SourceReader<>() {
        @Override
        public @Nullable SourceBatch<Long> next() throws Exception {
          SourceBatch<Long> b = reader.next();
          if (b == null) {
            end.countDown();
          }
          return b;
        }

        @Override
        public void close() throws IOException {
          reader.close();
        }
      };
    };
  }

  /**
   * Storm finding (ProcessStormTest, e.g. seed 1306248940776 chain 102 run 0): a stop() or close()
   * that ends a run after the owner read the end of the source, while batches are still running,
   * returns {@code stopped=false} although {@code uncommitted > 0} and the checkpoint is below the
   * end of the source. ProcessRun.run() computes {@code wasStopped() && !exhausted}, where {@code
   * exhausted} only means the fetcher saw the end, not that every batch settled.
   */
  @Test
  void stop_afterSourceReadToItsEnd_withBatchesRunning_summarySaysStopped() throws Exception {
    var end = new CountDownLatch(1);
    var running = new CountDownLatch(3);
    var store = new RecordingCheckpointStore();
    CollectorOptions options =
        CollectorOptions.builder().name("finding1").drainTimeout(Duration.ZERO).build();
    try (Collector<Long> collector = Collecting.open(signallingEnd(3, end), store, options)) {
      BackgroundRun run =
          BackgroundRun.start(
              collector,
              8,
              batch -> {
                running.countDown();
                new CountDownLatch(1).await(); // runs until the run interrupts it
              });
      assertTrue(end.await(10, TimeUnit.SECONDS), "the source was read to its end");
      assertTrue(running.await(10, TimeUnit.SECONDS), "all three handlers run");
      assertTrue(collector.stop());
      ProcessSummary summary = run.await(Duration.ofSeconds(10));

      assertEquals(3, summary.uncommitted(), summary.toString());
      assertEquals(Checkpoint.INITIAL, summary.checkpoint(), summary.toString());
      assertTrue(
          summary.stopped(),
          "stop() ended the run with 3 batches uncommitted, yet the summary says the run ended"
              + " at the end of the source: "
              + summary);
    }
  }

  /** A store whose commit of sequence {@code failing} waits for {@code release}, then throws. */
  private static CheckpointStore failingCommitAt(
      long failing, CountDownLatch entered, CountDownLatch release) {
    RecordingCheckpointStore delegate = new RecordingCheckpointStore();
    return new CheckpointStore() {
      @Override
      public @Nullable Checkpoint load() {
        return delegate.load();
      }

      @Override
      public void commit(Checkpoint checkpoint) throws IOException {
        if (checkpoint.sequence() == failing) {
          entered.countDown();
          boolean interrupted = false;
          while (true) {
            try {
              release.await();
              break;
            } catch (InterruptedException e) {
              interrupted = true;
            }
          }
          if (interrupted) {
            Thread.currentThread().interrupt();
          }
          throw new IOException("injected failure of the commit of " + checkpoint);
        }
        delegate.commit(checkpoint);
      }
    };
  }

  /**
   * Opens a pull collector where delivery 0 is acknowledged, its commit is in the store, then
   * delivery 1 fails (fail-fast: the run's failure), then that commit fails for good (a later
   * failure). Returns the collector with the committer failed.
   */
  private static Collector<Long> deliveryFailedThenCommitFailed() throws Exception {
    var entered = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    CollectorOptions options =
        CollectorOptions.builder().name("finding2").depth(4).commitRetry(Retry.NONE).build();
    Collector<Long> collector =
        Collecting.open(FakeSource.generated(5, 1), failingCommitAt(1, entered, release), options);
    Delivery<Long> d0 = Objects.requireNonNull(collector.next());
    Delivery<Long> d1 = Objects.requireNonNull(collector.next());
    assertTrue(d0.ack());
    assertTrue(entered.await(10, TimeUnit.SECONDS), "the commit of sequence 1 is in the store");
    assertTrue(d1.fail(new IOException("batch 1 failed")));
    release.countDown();
    return collector;
  }

  /**
   * Storm finding (PullStormTest, seed 1507449480123 rounds 74 and 218): awaitCommitted() throws
   * BatchFailedException, which its javadoc does not allow (CheckpointException if the commit
   * failed). PullSession.awaitCommitted sees committer.failed() and throws commitFailure(), which
   * converts the run's first failure — here the delivery's, the commit failure is only a later one
   * — instead of the commit failure.
   */
  @Test
  void awaitCommitted_commitFailsAfterADeliveryFailed_throwsCheckpointException() throws Exception {
    Collector<Long> collector = deliveryFailedThenCommitFailed();
    try {
      RuntimeException thrown =
          assertThrows(
              RuntimeException.class,
              collector::awaitCommitted,
              "the commit of the acknowledged prefix failed");
      assertTrue(
          thrown instanceof CheckpointException,
          "awaitCommitted() must say the commit failed (CheckpointException), got " + thrown);
    } finally {
      try {
        collector.close();
      } catch (RuntimeException ignored) {
        // the next test is about close()
      }
    }
  }

  /**
   * Same finding, through close(): its javadoc says CheckpointException if the final commit failed.
   */
  @Test
  void close_commitFailsAfterADeliveryFailed_throwsCheckpointException() throws Exception {
    Collector<Long> collector = deliveryFailedThenCommitFailed();
    RuntimeException thrown =
        assertThrows(RuntimeException.class, collector::close, "the commit failed");
    assertTrue(
        thrown instanceof CheckpointException,
        "close() must report the failed commit as CheckpointException, got " + thrown);
  }

  /**
   * Storm finding (ProcessStormTest, seed 1270130653425 chain 36 run 1): a fetch that fails with an
   * ordinary IOException while stop() is being processed fails the run with SourceException after
   * one attempt, although fetchRetry allows three and stop() asked for a graceful end. The Fetcher
   * records any failure once the lifecycle left RUNNING; Lifecycle.sourceFailed drops it only if it
   * was caused by an interrupt (a blocking read that answers the run's interrupt with another
   * IOException, e.g. a closed socket, is reported as a source failure too).
   */
  @Test
  void stop_whileAFetchFailsTransiently_returnsASummary() throws Exception {
    var inFetch = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    FakeSource<Long> fake = FakeSource.generated(5, 1);
    BatchSource<Long> source =
        token -> {
          SourceReader<Long> reader = fake.open(token);
          return new SourceReader<>() {
            long next = token.isEmpty() ? 0 : Long.parseLong(token);

            @Override
            public @Nullable SourceBatch<Long> next() throws Exception {
              if (next == 1 && inFetch.getCount() > 0) {
                inFetch.countDown();
                while (true) { // a read that does not answer interrupts, then fails
                  try {
                    release.await();
                    break;
                  } catch (InterruptedException e) {
                    // keep waiting, as a non-interruptible read would
                  }
                }
                throw new IOException("transient read failure of batch 1");
              }
              SourceBatch<Long> b = reader.next();
              if (b != null) {
                next++;
              }
              return b;
            }

            @Override
            public void close() throws IOException {
              reader.close();
            }
          };
        };
    CollectorOptions options =
        CollectorOptions.builder()
            .name("finding3")
            .fetchRetry(Retry.of(3, Duration.ZERO, Duration.ZERO))
            .build();
    try (Collector<Long> collector =
        Collecting.open(source, new RecordingCheckpointStore(), options)) {
      BackgroundRun run = BackgroundRun.start(collector, 4, batch -> {});
      assertTrue(inFetch.await(10, TimeUnit.SECONDS));
      assertTrue(collector.stop());
      release.countDown();
      ProcessSummary summary = run.await(Duration.ofSeconds(10)); // throws SourceException today
      assertTrue(summary.stopped(), summary.toString());
      assertEquals(1, summary.checkpoint().sequence(), summary.toString());
    }
  }

  /**
   * Storm finding (ProcessStormTest, seed 7 chain 35 run 1; seed 99999 chain 14 run 0): under a
   * dead-letter policy, a batch whose (genuine, not interrupt-caused) failure exhausts its attempts
   * while stop()/close() cancels the run makes process() throw BatchFailedException. The policy
   * never fails a run for a handler failure (only a throwing dead-letter handler does); while
   * cancelling, BatchRunner skips the dead-letter handler and falls through to
   * lifecycle.handlerFailed(...), which records it as the run's failure.
   */
  @Test
  void stop_deadLetterPolicy_failureWhileCancelling_doesNotFailTheRun() throws Exception {
    var started = new CountDownLatch(2);
    var cancelled = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    CollectorOptions options =
        CollectorOptions.builder()
            .name("finding4")
            .drainTimeout(Duration.ZERO)
            .failurePolicy(
                dev.collector.FailurePolicy.failFast().thenDeadLetter((batch, cause) -> {}))
            .build();
    try (Collector<Long> collector =
        Collecting.open(FakeSource.generated(2, 1), new RecordingCheckpointStore(), options)) {
      BackgroundRun run =
          BackgroundRun.start(
              collector,
              4,
              batch -> {
                started.countDown();
                if (batch.sequence() == 1) {
                  try {
                    new CountDownLatch(1).await();
                  } finally {
                    cancelled.countDown(); // the run interrupted us: it is cancelling
                  }
                }
                boolean interrupted = false;
                while (true) { // batch 0: a call that ignores interrupts, then fails for real
                  try {
                    release.await();
                    break;
                  } catch (InterruptedException e) {
                    interrupted = true;
                  }
                }
                if (interrupted) {
                  Thread.interrupted(); // not an echo: the failure below is the batch's own
                }
                throw new IOException("batch 0 failed on its own");
              });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      assertTrue(collector.stop());
      assertTrue(cancelled.await(10, TimeUnit.SECONDS));
      release.countDown();
      ProcessSummary summary = run.await(Duration.ofSeconds(10)); // BatchFailedException today
      assertTrue(summary.stopped(), summary.toString());
    }
  }
}
