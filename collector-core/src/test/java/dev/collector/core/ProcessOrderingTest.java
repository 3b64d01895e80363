package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.Progress;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** G1 (ordered commit), G3 (bounded window) and G9 (confirmed final commit), scripted. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class ProcessOrderingTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  @Test
  void process_headBatchHeld_nothingCommittedFetcherBlocksThenOneGroupCommit() throws Exception {
    var threads = new Threads();
    var source = new Sources.Observed<>(FakeSource.generated(10, 3), threads);
    var store = new RecordingCheckpointStore();
    var controller = new CompletionController<Long>(batch -> threads.record());
    Collector<Long> collector =
        Collecting.open(
            source,
            Sources.observed(store, threads),
            CollectorOptions.builder().name("g1").build());

    BackgroundRun run = BackgroundRun.start(collector, 4, controller);
    for (long s = 0; s < 4; s++) {
      controller.awaitStarted(s, WAIT);
    }
    controller.release(1);
    controller.release(2);
    controller.release(3);
    for (long s = 1; s < 4; s++) {
      controller.awaitFinished(s, WAIT);
    }
    // The fetcher has nowhere to put batch 4: it waits for a slot instead of reading on.
    await()
        .atMost(WAIT)
        .until(() -> source.fetcher != null && source.fetcher.getState() == Thread.State.WAITING);
    assertEquals(4, source.fetches.get(), "fetched beyond depth");
    Progress p = collector.progress();
    assertEquals(4, p.fetched());
    assertEquals(0, p.acknowledged());
    assertEquals(0, p.committed());
    assertEquals(4, p.inFlight());
    assertEquals(3, p.waiting());
    assertEquals(1, p.running());
    assertEquals(List.of(), store.history(), "committed past an unacknowledged batch");

    controller.release(0);
    store.awaitSequence(4, WAIT);
    assertEquals(new Checkpoint(4, "4"), store.history().get(0), "not one group commit");

    controller.releaseAll();
    ProcessSummary summary = run.await(WAIT);
    assertEquals(10, summary.batches());
    assertEquals(30, summary.records());
    assertFalse(summary.stopped());
    assertEquals(new Checkpoint(10, "10"), summary.checkpoint());
    // G9: the checkpoint process() reports is the one the store holds.
    assertEquals(summary.checkpoint(), store.current());
    assertTrue(summary.commits() >= 2 && summary.commits() <= 7, "commits " + summary.commits());
    threads.assertAllEnded();
    store.assertNoViolation();
  }

  @Test
  void process_slowFinalCommit_returnsOnlyAfterItIsDurable() throws Exception {
    var store = new RecordingCheckpointStore();
    store.slowCommits(Duration.ofMillis(100)); // a slow fsync: the handler is done long before
    Collector<Long> collector =
        Collecting.open(FakeSource.generated(1, 1), store, CollectorOptions.defaults());
    ProcessSummary summary = collector.process(4, b -> {});
    assertEquals(new Checkpoint(1, "1"), summary.checkpoint());
    assertEquals(new Checkpoint(1, "1"), store.current());
  }

  @Test
  void process_twice_secondRunResumesAtCommittedCheckpoint() throws Exception {
    var store = new RecordingCheckpointStore();
    var source = FakeSource.generated(5, 1);
    Collector<Long> collector = Collecting.open(source, store, CollectorOptions.defaults());
    assertEquals(5, collector.process(2, b -> {}).batches());
    ProcessSummary again = collector.process(2, b -> {});
    assertEquals(0, again.batches());
    assertEquals(new Checkpoint(5, "5"), again.checkpoint());
    assertEquals(2, source.opens());
  }

  @Test
  void process_emptySource_returnsWithoutCommit() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> collector =
        Collecting.open(FakeSource.generated(0, 1), store, CollectorOptions.defaults());
    ProcessSummary summary = collector.process(8, b -> {});
    assertEquals(0, summary.batches());
    assertEquals(0, summary.commits());
    assertEquals(Checkpoint.INITIAL, summary.checkpoint());
  }
}
