package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.CheckpointException;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * G2 (at-least-once) and G3 (bounded replay) across an in-process crash: the store freezes
 * what is durable at a random commit, as a killed process would, and a new collector on the same
 * store finishes the source. Seeded: rerun with {@code -Dcollector.seed=N}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CrashRestartTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());

  @ParameterizedTest(name = "depth {0}")
  @ValueSource(ints = {1, 2, 16, 64})
  void crashAtRandomCommit_restartHandlesEverythingReplayingAtMostDepth(int depth)
      throws Exception {
    int batches = 2_000;
    int recordsPerBatch = 3;
    var random = new SplittableRandom(SEED ^ depth);
    String context = "seed " + SEED + " (rerun with -Dcollector.seed=" + SEED + "), depth "
        + depth + ": ";
    var source = FakeSource.generated(batches, recordsPerBatch);
    var store = new RecordingCheckpointStore();
    store.crashAtSequence(random.nextLong(1, batches));

    // Run 1: dies at the crash. Handling that happens after it would not have happened in a
    // dead process, so only handling before the crash is counted as run 1's.
    var handledBeforeCrash = ConcurrentHashMap.<Long>newKeySet();
    Collector<Long> first = Collecting.open(source, store, CollectorOptions.defaults());
    var crash =
        assertThrows(
            CheckpointException.class,
            () ->
                first.process(
                    depth,
                    batch -> {
                      work(random.split());
                      if (!store.isCrashed()) {
                        handledBeforeCrash.add(batch.sequence());
                      }
                    }),
            context);
    assertTrue(store.isCrashed(), context);
    assertEquals(crash.durable(), store.current(), context + "reported durable checkpoint");
    long survived = store.current().sequence();

    // Run 2: a new collector on what survived.
    store.restart();
    var records = new AtomicIntegerArray(batches * recordsPerBatch);
    Set<Long> replayed = ConcurrentHashMap.newKeySet();
    Collector<Long> second = Collecting.open(source, store, CollectorOptions.defaults());
    ProcessSummary summary =
        second.process(
            depth,
            batch -> {
              work(random.split());
              if (handledBeforeCrash.contains(batch.sequence())) {
                replayed.add(batch.sequence());
              }
              batch.records().forEach(id -> records.incrementAndGet(id.intValue()));
            });

    assertEquals(batches - survived, summary.batches(), context);
    // G2: every record is handled at least once: what survived was handled by run 1 (G1),
    // everything after it by run 2.
    for (long b = 0; b < batches; b++) {
      if (b < survived) {
        assertTrue(handledBeforeCrash.contains(b), context + "batch " + b + " committed unhandled");
        continue;
      }
      for (int r = 0; r < recordsPerBatch; r++) {
        int id = (int) (b * recordsPerBatch + r);
        assertTrue(records.get(id) >= 1, context + "record " + id + " was lost");
      }
    }
    // G3: what run 1 handled but did not commit is delivered again, at most depth batches.
    assertTrue(replayed.size() <= depth, context + "replayed " + replayed.size());
    assertTrue(replayed.stream().allMatch(s -> s >= survived), context + replayed);
  }

  /** Uneven handler time so batches finish out of order. */
  private static void work(SplittableRandom random) {
    if (random.nextInt(4) == 0) {
      LockSupport.parkNanos(random.nextLong(1_000, 50_000));
    }
  }
}
