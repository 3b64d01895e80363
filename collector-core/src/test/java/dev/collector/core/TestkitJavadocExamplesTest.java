package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchHandler;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CollectorRun;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The code examples in collector-testkit's javadoc, compiled and run against a real collector
 * (here, since the testkit cannot depend on collector-core). Each example is a marked region of
 * this file that the javadoc quotes; see {@link JavadocExamplesTest} for how.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TestkitJavadocExamplesTest {

  /** Stands in for wherever the records go; keeps them in the order they were written. */
  static final class Sink<T> {
    final List<T> written = new CopyOnWriteArrayList<>();

    void write(List<? extends T> records) {
      written.addAll(records);
    }
  }

  /** A sink that must stay correct under replay: it keys what it stores by record id. */
  static final class IdempotentSink {
    final Set<Long> stored = ConcurrentHashMap.newKeySet();

    void upsert(List<Long> records) {
      stored.addAll(records);
    }
  }

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();

  /** {@link CompletionController}: batches finish in the order the test releases them. */
  @Test
  void completionController() throws Exception {
    var sink = new Sink<Long>();
    Collector<Long> collector =
        Collecting.open(FakeSource.generated(3, 2), store, CollectorOptions.defaults());
    // @start region="completionController"
    var controller = new CompletionController<Long>();
    try (var run =
        CollectorRun.start(collector, 3, controller.wrap(batch -> sink.write(batch.records())))) {
      controller.awaitStartedCount(3, Duration.ofSeconds(10)); // the window is full
      controller.release(2);
      controller.awaitFinished(2, Duration.ofSeconds(10));
      controller.release(0);
      controller.awaitFinished(0, Duration.ofSeconds(10));
      controller.release(1);
      run.await();
    }
    // @end
    assertEquals(List.of(4L, 5L, 0L, 1L, 2L, 3L), sink.written, "released 2, 0, 1");
    assertEquals(new Checkpoint(3, "3"), store.current());
    store.assertNoViolation();
  }

  /** {@link CollectorRun}: the run in the background, awaited, closing the collector. */
  @Test
  void collectorRun() throws Exception {
    var sink = new Sink<String>();
    var controller = new CompletionController<String>();
    BatchHandler<String> handler = batch -> sink.write(batch.records());
    Collector<String> collector =
        Collecting.open(
            FakeSource.of(List.of(List.of("a"), List.of("b"))), store, CollectorOptions.defaults());
    // @start region="collectorRun"
    try (var run = CollectorRun.start(collector, 8, controller.wrap(handler))) {
      controller.release(1);
      controller.release(0);
      ProcessSummary summary = run.await();
      assertEquals(2, summary.batches());
    } // closes the collector too
    // @end
    assertEquals(Set.of("a", "b"), Set.copyOf(sink.written));
    assertThrows(CollectorClosedException.class, () -> collector.process(1, batch -> {}));
  }

  /** {@link FakeSource}: the listed batches; generated ids survive injected fetch failures. */
  @Test
  void fakeSource() throws Exception {
    long seed = 42;
    // @start region="fakeSource"
    FakeSource<String> source = FakeSource.of(List.of(List.of("a", "b"), List.of("c")));
    FakeSource<Long> ids =
        FakeSource.generated(1_000, 10) // ids 0..9999, 10 per batch
            .failFetch(17, 2) // batch 17: two failed fetches
            .failRandomly(0.01, seed); // and 1% of all fetches
    // @end
    var letters = new Sink<String>();
    try (Collector<String> collector =
        Collecting.open(source, Collecting.inMemoryStore(), CollectorOptions.defaults())) {
      collector.process(4, batch -> letters.write(batch.records()));
    }
    assertEquals(Set.of("a", "b", "c"), Set.copyOf(letters.written));

    var handled = new IdempotentSink();
    try (Collector<Long> collector =
        Collecting.open(
            ids,
            store,
            CollectorOptions.builder()
                .fetchRetry(Retry.of(10, Duration.ZERO, Duration.ZERO))
                .build())) {
      assertEquals(
          10_000, collector.process(16, batch -> handled.upsert(batch.records())).records());
    }
    assertEquals(10_000, handled.stored.size());
    assertTrue(ids.opens() > 2, "batch 17's two failures reopen the reader: " + ids.opens());
  }

  /** {@link CollectorLeakCheck}: the extension injects a controller; nothing leaks here. */
  @Nested
  // @start region="collectorLeakCheck"
  @ExtendWith(CollectorLeakCheck.class)
  class MyHandlerTest {
    @Test
    void handlesOutOfOrder(CompletionController<String> controller) throws Exception {
      var sink = new Sink<String>();
      var source = Collecting.listSource(List.of(List.of("a"), List.of("b")));
      Collector<String> collector =
          Collecting.open(source, Collecting.inMemoryStore(), CollectorOptions.defaults());
      try (var run =
          CollectorRun.start(collector, 2, controller.wrap(batch -> sink.write(batch.records())))) {
        controller.release(1);
        controller.awaitFinished(1, Duration.ofSeconds(10));
        controller.release(0);
        run.await();
      }
      assertEquals(List.of("b", "a"), sink.written);
    }
  }

  // @end

  /** {@link CrashHarness}: crashes, replays and out-of-order completion, checked by the ledger. */
  @Test
  void crashHarness() throws Exception {
    var sink = new IdempotentSink();
    // @start region="crashHarness"
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(500, 10), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(42)
            .run(batch -> sink.upsert(batch.records()));
    ledger.assertAll(); // every record handled, commits in order, replay <= depth, end reached
    // @end
    assertTrue(ledger.crashes() > 0, ledger.summary());
    assertEquals(5_000, sink.stored.size());
  }
}
