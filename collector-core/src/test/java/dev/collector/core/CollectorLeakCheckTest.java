package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The testkit's JUnit extension: leak detection and controller injection. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
@ExtendWith(CollectorLeakCheck.class)
class CollectorLeakCheckTest {

  @Test
  void liveCollectorThreads_findsAnOpenPullSession_andNothingOnceClosed() throws Exception {
    Collector<Long> open = Collecting.open(FakeSource.generated(100, 1),
        new RecordingCheckpointStore(), CollectorOptions.builder().name("leaky").build());
    open.next();
    List<String> alive = CollectorLeakCheck.liveCollectorThreads();
    assertTrue(alive.contains("leaky-fetcher") && alive.contains("leaky-committer"),
        alive.toString());
    open.close();
    assertEquals(List.of(), CollectorLeakCheck.liveCollectorThreads().stream()
        .filter(n -> n.startsWith("leaky-")).toList());
  }

  @Test
  void injectedController_scriptsCompletionOrder(CompletionController<Long> controller)
      throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(3, 1), store,
        CollectorOptions.builder().name("scripted").build());
    BackgroundRun run = BackgroundRun.start(c, 3, controller);
    for (long s = 0; s < 3; s++) {
      controller.awaitStarted(s, Duration.ofSeconds(10));
    }
    controller.release(2);
    controller.release(0);
    controller.release(1);
    assertEquals(3, run.await(Duration.ofSeconds(10)).batches());
    // the extension checks after this test that no "scripted-*" thread is left
  }
}
