package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.FeedSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The testkit's fakes, through a real collector. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class TestkitFakesTest {

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();

  @Test
  void feedSource_deliversWhatTheTestFeeds_untilEnd() throws Exception {
    var source = new FeedSource<String>();
    try (Collector<String> c = Collecting.open(source, store, CollectorOptions.defaults())) {
      source.feed(List.of("a", "b"));
      Delivery<String> first = c.next();
      assertEquals(List.of("a", "b"), first.batch().records());
      assertEquals(null, c.next(Duration.ofMillis(20)), "nothing fed yet");
      source.feed(List.of("c"));
      Delivery<String> second = c.next();
      source.end();
      assertEquals(null, c.next());
      first.ack();
      second.ack();
      assertEquals(new Checkpoint(2, "2"), c.awaitCommitted());
    }
    assertThrows(IllegalStateException.class, () -> source.feed(List.of("late")));
  }

  @Test
  void fakeSource_randomFetchFailures_areRetriedAndNothingIsLost() throws Exception {
    var source = FakeSource.generated(200, 2).failRandomly(0.2, 99);
    Collector<Long> c =
        Collecting.open(
            source,
            store,
            CollectorOptions.builder()
                .fetchRetry(Retry.of(50, Duration.ZERO, Duration.ZERO))
                .build());
    ProcessSummary summary = c.process(8, b -> {});
    assertEquals(200, summary.batches());
    assertEquals(400, summary.records());
    assertTrue(source.opens() > 1, "no failure was injected");
  }

  @Test
  void fakeSource_fetchLatency_andListSource() throws Exception {
    var source =
        FakeSource.of(List.of(List.of("x"), List.of("y", "z"))).fetchLatency(Duration.ofMillis(5));
    assertEquals(3, source.totalRecords());
    Collector<String> c = Collecting.open(source, store, CollectorOptions.defaults());
    ProcessSummary summary = c.process(2, b -> {});
    assertTrue(summary.duration().toMillis() >= 10, summary.toString());
    assertEquals(new Checkpoint(2, "2"), store.current());
  }

  @Test
  void recordingStore_crashNow_freezesDurableState_untilRestart() throws Exception {
    store.commit(new Checkpoint(3, "3"));
    store.crash();
    assertThrows(IOException.class, () -> store.commit(new Checkpoint(4, "4")));
    assertEquals(new Checkpoint(3, "3"), store.load());
    store.restart();
    store.commit(new Checkpoint(4, "4"));
    assertEquals(List.of(new Checkpoint(3, "3"), new Checkpoint(4, "4")), store.history());
  }
}
