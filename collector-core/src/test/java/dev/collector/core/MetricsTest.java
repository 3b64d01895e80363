package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AckOrdering;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.OutOfOrderAckException;
import dev.collector.Retry;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** CollectorMetrics: the values the meters show under scripted scenarios. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class MetricsTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final RecordingCheckpointStore store = new RecordingCheckpointStore();

  private double gauge(String name) {
    return registry.get(name).tag("collector", "m").gauge().value();
  }

  private double count(String name) {
    return registry.get(name).tag("collector", "m").counter().count();
  }

  @Test
  void process_headHeld_gaugesShowWindowAndOutOfOrderBuffer_thenCountersAndTimers()
      throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> c = Collecting.open(FakeSource.generated(10, 3), store,
        CollectorOptions.builder().name("m").build());
    new CollectorMetrics(c).bindTo(registry);
    BackgroundRun run = BackgroundRun.start(c, 4, controller);
    controller.awaitStartedCount(4, WAIT); // the window of 4 is full
    controller.release(1);
    controller.release(2);
    controller.awaitFinished(1, WAIT);
    controller.awaitFinished(2, WAIT);
    await().atMost(WAIT).until(() -> gauge("collector.waiting") == 2);
    assertEquals(4, gauge("collector.fetched"));
    assertEquals(0, gauge("collector.committed"));
    assertEquals(4, gauge("collector.in.flight"));
    assertEquals(4, gauge("collector.capacity"));
    assertTrue(registry.get("collector.oldest.running").timeGauge().value(TimeUnit.NANOSECONDS)
        > 0);

    controller.releaseAll();
    run.await(WAIT);
    assertEquals(10, count("collector.batches.fetched"));
    assertEquals(10, count("collector.batches.acknowledged"));
    assertEquals(30, count("collector.records"));
    assertEquals(0, count("collector.batches.failed"));
    assertEquals(store.history().size(), count("collector.commits"));
    assertEquals(10, registry.get("collector.handler.duration").tag("outcome", "success")
        .timer().count());
    assertEquals(store.history().size(),
        registry.get("collector.commit.duration").timer().count());
    assertEquals(10, registry.get("collector.fetch.duration").timer().count());
    // the fetcher found the window full at least once (batch 4 waited for batch 0)
    assertTrue(registry.get("collector.window.full.wait").timer().count() >= 1);
    assertEquals(0, gauge("collector.in.flight"), "no run active");
  }

  @Test
  void retriesDeadLettersFailuresAndMisuse_areCounted() throws Exception {
    Collector<Long> c = Collecting.open(FakeSource.generated(5, 1), store,
        CollectorOptions.builder().name("m").failurePolicy(
            FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                .thenDeadLetter((batch, cause) -> {})).build());
    new CollectorMetrics(c).bindTo(registry);
    c.process(1, batch -> {
      if (batch.sequence() == 3) {
        throw new IOException("poison");
      }
    });
    assertEquals(2, count("collector.batches.failed"));
    assertEquals(1, count("collector.batches.retried"));
    assertEquals(1, count("collector.batches.dead.lettered"));
    assertEquals(4, count("collector.batches.acknowledged"));
    assertEquals(2, registry.get("collector.handler.duration").tag("outcome", "failure")
        .timer().count());

    Collector<Long> strict = Collecting.open(FakeSource.generated(5, 1),
        new RecordingCheckpointStore(),
        CollectorOptions.builder().name("m2").ackOrdering(AckOrdering.STRICT).build());
    new CollectorMetrics(strict).bindTo(registry);
    strict.next();
    Delivery<Long> second = strict.next();
    assertThrows(OutOfOrderAckException.class, second::ack);
    assertEquals(1, registry.get("collector.misuse").tag("collector", "m2")
        .tag("kind", "OutOfOrderAckException").counter().count());
    strict.close();
  }
}
