package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The JFR events and their fields, recorded with a RecordingStream. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class JfrEventsTest {

  @Test
  void process_emitsBatchHandledCommitAndWindowFullEvents() throws Exception {
    List<RecordedEvent> events = new CopyOnWriteArrayList<>();
    try (var stream = new RecordingStream()) {
      stream.enable("dev.collector.BatchHandled");
      stream.enable("dev.collector.Commit");
      stream.enable("dev.collector.WindowFull");
      stream.onEvent(events::add);
      stream.startAsync();

      var store = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(10, 3), store, CollectorOptions.builder().name("jfr").build());
      c.process(
          1,
          batch -> { // depth 1: the fetcher waits for every commit
            if (batch.sequence() == 7) {
              Thread.sleep(5); // a handler that takes time, so its event has a measurable duration
            }
          });

      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  count(events, "BatchHandled") == 10
                      && count(events, "Commit") == store.history().size());
    }
    RecordedEvent handled =
        events.stream()
            .filter(e -> e.getEventType().getName().equals("dev.collector.BatchHandled"))
            .filter(e -> e.getLong("sequence") == 7)
            .findFirst()
            .orElseThrow();
    assertEquals("jfr", handled.getString("collector"));
    assertEquals(3, handled.getInt("records"));
    assertEquals("success", handled.getString("outcome"));
    assertTrue(handled.getLong("handlerDuration") >= 5_000_000);
    // the event itself spans the attempt (begin/end), so recording thresholds can filter it
    assertTrue(handled.getDuration().toMillis() >= 5, handled.getDuration().toString());

    RecordedEvent lastCommit =
        events.stream()
            .filter(e -> e.getEventType().getName().equals("dev.collector.Commit"))
            .max((a, b) -> Long.compare(a.getLong("checkpoint"), b.getLong("checkpoint")))
            .orElseThrow();
    assertEquals(10, lastCommit.getLong("checkpoint"));
    assertTrue(lastCommit.getLong("batches") >= 1);
    assertTrue(lastCommit.getLong("commitDuration") >= 0);

    assertTrue(count(events, "WindowFull") >= 1, "depth 1 must fill the window");
    RecordedEvent full =
        events.stream()
            .filter(e -> e.getEventType().getName().equals("dev.collector.WindowFull"))
            .findFirst()
            .orElseThrow();
    assertTrue(full.getLong("waited") > 0);
    assertTrue(
        count(events, "BatchHandled") > 0
            && events.stream().allMatch(e -> !e.getEndTime().isBefore(e.getStartTime())));
  }

  private static long count(List<RecordedEvent> events, String name) {
    return events.stream()
        .filter(e -> e.getEventType().getName().equals("dev.collector." + name))
        .count();
  }
}
