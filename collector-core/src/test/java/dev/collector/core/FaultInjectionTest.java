package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.SourceException;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Fetch and commit failures: retried with backoff, then a clear failure; nothing lost. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class FaultInjectionTest {

  private static final Retry THREE_QUICK = Retry.of(3, Duration.ofMillis(1), Duration.ofMillis(5));

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();
  private final AtomicIntegerArray handled = new AtomicIntegerArray(20);

  private Collector<Long> collector(FakeSource<Long> source) {
    return Collecting.open(
        source,
        store,
        CollectorOptions.builder().fetchRetry(THREE_QUICK).commitRetry(THREE_QUICK).build());
  }

  @Test
  void fetch_failsTwice_readerReopenedAtLastPositionAndEveryBatchHandledOnce() throws Exception {
    var source = FakeSource.generated(20, 1).failFetch(5, 2);
    ProcessSummary summary =
        collector(source).process(4, b -> handled.incrementAndGet((int) b.sequence()));
    assertEquals(20, summary.batches());
    assertEquals(3, source.opens());
    for (int s = 0; s < 20; s++) {
      assertEquals(1, handled.get(s), "batch " + s);
    }
  }

  @Test
  void fetch_failsForEver_runFailsWithSourceExceptionAfterRetries() {
    var source = FakeSource.generated(20, 1).failFetch(5, Integer.MAX_VALUE);
    var e = assertThrows(SourceException.class, () -> collector(source).process(4, b -> {}));
    assertEquals(5, e.sequence());
    assertEquals(3, source.opens());
    assertTrue(store.current().sequence() <= 5);
    assertTrue(e.getMessage().contains("committed through sequence " + store.current().sequence()));
  }

  @Test
  void commit_failsTwice_isRetriedAndRunCompletes() throws Exception {
    store.failNextCommits(2);
    ProcessSummary summary = collector(FakeSource.generated(20, 1)).process(4, b -> {});
    assertEquals(20, summary.batches());
    assertEquals(new Checkpoint(20, "20"), store.current());
  }

  @Test
  void commit_failsForEver_runFailsNamingTheDurableCheckpoint_positionNeverAhead()
      throws Exception {
    Collector<Long> c = collector(FakeSource.generated(20, 1));
    var e =
        assertThrows(
            CheckpointException.class,
            () ->
                c.process(
                    1,
                    b -> {
                      if (b.sequence() == 9) {
                        store.failNextCommits(Integer.MAX_VALUE); // from here on the store refuses
                      }
                    }));
    Checkpoint durable = store.current();
    assertTrue(durable.sequence() >= 9 && durable.sequence() < 20, durable.toString());
    assertEquals(durable, e.durable());
    assertTrue(
        e.getMessage().contains("durable checkpoint is sequence " + durable.sequence()),
        e.getMessage());
    // the in-memory position never ran ahead of what the store confirmed
    assertEquals(durable.sequence(), c.progress().committed());
  }
}
