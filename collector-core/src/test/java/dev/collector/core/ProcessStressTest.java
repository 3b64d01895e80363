package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Seeded randomized stress of G1 and G3: random handler latencies make batches complete out of
 * order; after every commit the checkpoint must have moved forward over handled batches only, and
 * the fetcher and handlers must never run more than {@code depth} ahead of the commit.
 *
 * <p>Reproduce a failure with {@code -Dcollector.seed=N} (the seed is in every message). Sizes
 * double when {@code CI} is set.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessStressTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());
  private static final int SCALE = System.getenv("CI") != null ? 2 : 1;

  @ParameterizedTest(name = "depth {0}, {1} batches")
  @CsvSource({"1, 10000", "2, 20000", "64, 40000", "1024, 40000"})
  void process_randomLatencies_commitsInOrderWithinDepth(int depth, int baseBatches)
      throws Exception {
    int batches = baseBatches * SCALE;
    long seed = SEED ^ depth;
    String context =
        "seed " + SEED + " (rerun with -Dcollector.seed=" + SEED + "), depth " + depth + ": ";
    var handledCount = new AtomicIntegerArray(batches);
    var violation = new AtomicReference<@Nullable String>();
    var store =
        new RecordingCheckpointStore(
            null,
            (previous, next) -> {
              for (long s = previous.sequence(); s < next.sequence(); s++) {
                if (handledCount.get((int) s) == 0) {
                  throw new AssertionError(
                      context
                          + "committed batch "
                          + s
                          + " before its"
                          + " handler returned ("
                          + previous
                          + " -> "
                          + next
                          + ")");
                }
              }
            });
    BatchSource<Long> bounded =
        boundedSource(FakeSource.generated(batches, 1), store, depth, violation, context);
    Collector<Long> collector =
        Collecting.open(bounded, store, CollectorOptions.builder().name("stress").build());

    ProcessSummary summary =
        collector.process(
            depth,
            batch -> {
              long s = batch.sequence();
              long ahead = s - store.current().sequence();
              if (ahead >= depth) {
                violation.compareAndSet(
                    null,
                    context
                        + "batch "
                        + s
                        + " runs "
                        + ahead
                        + " ahead of the committed checkpoint");
              }
              latency(new SplittableRandom(seed ^ (s * 0x9E3779B97F4A7C15L)));
              handledCount.incrementAndGet((int) s);
            });

    store.assertNoViolation();
    assertEquals(null, violation.get());
    assertEquals(batches, summary.batches(), context);
    assertEquals(new Checkpoint(batches, "" + batches), store.current(), context);
    for (int s = 0; s < batches; s++) {
      assertEquals(1, handledCount.get(s), context + "batch " + s + " handled more than once");
    }
  }

  /** Mostly no latency, sometimes a yield, rarely a park of up to 200 µs: out-of-order finish. */
  private static void latency(SplittableRandom random) {
    int dice = random.nextInt(100);
    if (dice < 60) {
      return;
    }
    if (dice < 90) {
      Thread.yield();
      return;
    }
    LockSupport.parkNanos(random.nextLong(1_000, 200_000));
  }

  /** Flags a fetch of batch k while k - committed >= depth. */
  private static BatchSource<Long> boundedSource(
      FakeSource<Long> source,
      RecordingCheckpointStore store,
      int depth,
      AtomicReference<@Nullable String> violation,
      String context) {
    return token -> {
      SourceReader<Long> reader = source.open(token);
      return new SourceReader<>() {
        long next = token.isEmpty() ? 0 : Long.parseLong(token);

        @Override
        public @Nullable SourceBatch<Long> next() throws Exception {
          long ahead = next - store.current().sequence();
          if (ahead >= depth) {
            violation.compareAndSet(
                null,
                context
                    + "fetched batch "
                    + next
                    + ", "
                    + ahead
                    + " ahead of the committed checkpoint");
          }
          next++;
          return reader.next();
        }

        @Override
        public void close() throws IOException {
          reader.close();
        }
      };
    };
  }
}
