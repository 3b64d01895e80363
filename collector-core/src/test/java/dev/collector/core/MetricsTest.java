package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AckOrdering;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.OutOfOrderAckException;
import dev.collector.Retry;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
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
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 3), store, CollectorOptions.builder().name("m").build());
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
    assertTrue(
        registry.get("collector.oldest.running").timeGauge().value(TimeUnit.NANOSECONDS) > 0);

    controller.releaseAll();
    run.await(WAIT);
    assertEquals(10, count("collector.batches.fetched"));
    assertEquals(10, count("collector.batches.acknowledged"));
    assertEquals(30, count("collector.records"));
    assertEquals(0, count("collector.batches.failed"));
    assertEquals(store.history().size(), count("collector.commits"));
    assertEquals(
        10, registry.get("collector.handler.duration").tag("outcome", "success").timer().count());
    assertEquals(store.history().size(), registry.get("collector.commit.duration").timer().count());
    assertEquals(10, registry.get("collector.fetch.duration").timer().count());
    // the fetcher found the window full at least once (batch 4 waited for batch 0)
    assertTrue(registry.get("collector.window.full.wait").timer().count() >= 1);
    assertEquals(0, gauge("collector.in.flight"), "no run active");
  }

  @Test
  void retriesDeadLettersFailuresAndMisuse_areCounted() throws Exception {
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            store,
            CollectorOptions.builder()
                .name("m")
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                        .thenDeadLetter((batch, cause) -> {}))
                .build());
    new CollectorMetrics(c).bindTo(registry);
    c.process(
        1,
        batch -> {
          if (batch.sequence() == 3) {
            throw new IOException("poison");
          }
        });
    assertEquals(2, count("collector.batches.failed"));
    assertEquals(1, count("collector.batches.retried"));
    assertEquals(1, count("collector.batches.dead.lettered"));
    assertEquals(4, count("collector.batches.acknowledged"));
    assertEquals(
        2, registry.get("collector.handler.duration").tag("outcome", "failure").timer().count());

    Collector<Long> strict =
        Collecting.open(
            FakeSource.generated(5, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("m2").ackOrdering(AckOrdering.STRICT).build());
    new CollectorMetrics(strict).bindTo(registry);
    strict.next();
    Delivery<Long> second = strict.next();
    assertThrows(OutOfOrderAckException.class, second::ack);
    assertEquals(
        1,
        registry
            .get("collector.misuse")
            .tag("collector", "m2")
            .tag("kind", "OutOfOrderAckException")
            .counter()
            .count());
    strict.close();
  }

  private static Collector<Long> open(String name, long batches) {
    return Collecting.open(
        FakeSource.generated(batches, 1),
        new RecordingCheckpointStore(),
        CollectorOptions.builder().name(name).build());
  }

  private static CollectorMetrics bound(Collector<?> c, MeterRegistry... registries) {
    var metrics = new CollectorMetrics(c);
    for (MeterRegistry r : registries) {
      metrics.bindTo(r);
    }
    return metrics;
  }

  /** Runs System.gc() until the references are cleared (GC is a request, hence the loop). */
  private static void awaitCollected(List<? extends WeakReference<?>> refs) {
    await()
        .atMost(WAIT)
        .pollDelay(Duration.ZERO)
        .until(
            () -> {
              System.gc();
              return refs.stream().allMatch(r -> r.get() == null);
            });
  }

  // Issue 13, point 1: meters leave with their collector, and gauges do not keep it alive.
  @Test
  void closingManyCollectors_removesTheirMeters_andLetsThemBeCollected() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Counter.builder("app.other").register(prometheus); // a meter that is not ours stays
    int before = prometheus.getMeters().size();
    List<WeakReference<Collector<Long>>> refs = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      Collector<Long> c = open("job-" + i, 3);
      new CollectorMetrics(c).bindTo(prometheus);
      c.process(2, b -> {});
      assertTrue(prometheus.getMeters().size() > before, "bound meters are registered");
      c.close();
      refs.add(new WeakReference<>(c));
    }
    assertEquals(
        before,
        prometheus.getMeters().size(),
        "meters left after close: "
            + prometheus.getMeters().stream().map(m -> m.getId().toString()).limit(10).toList());
    assertFalse(prometheus.scrape().contains("job-"), "closed collectors still scraped");
    awaitCollected(refs);
  }

  @Test
  void gaugesHoldTheCollectorWeakly_anUnclosedCollectorIsCollected_andItsNameFreed()
      throws Exception {
    Collector<Long> c = open("forgotten", 3);
    new CollectorMetrics(c).bindTo(registry);
    c.process(2, b -> {});
    WeakReference<Collector<Long>> ref = new WeakReference<>(c);
    c = null; // never closed: only the registry's gauges could keep it now
    awaitCollected(List.of(ref));
    assertTrue(
        Double.isNaN(
            registry.get("collector.capacity").tag("collector", "forgotten").gauge().value()));
    Collector<Long> next = open("forgotten", 3); // the name of a collected collector is free
    new CollectorMetrics(next).bindTo(registry);
    assertEquals(
        0, registry.get("collector.capacity").tag("collector", "forgotten").gauge().value());
    next.close();
  }

  @Test
  void binderClose_removesItsMetersFromEveryRegistry_andTheNameIsFree() throws Exception {
    var other = new SimpleMeterRegistry();
    Collector<Long> c = open("m", 4);
    var metrics = bound(c, registry, other);
    c.process(2, b -> {});
    metrics.close();
    assertEquals(List.of(), registry.getMeters());
    assertEquals(List.of(), other.getMeters());
    assertThrows(IllegalStateException.class, () -> metrics.bindTo(registry));
    new CollectorMetrics(c).bindTo(registry); // a new binder measures the same collector
    assertEquals(4, gauge("collector.committed"));
    c.close();
    assertEquals(List.of(), registry.getMeters());
  }

  @Test
  void bindingAClosedCollector_registersNothing() {
    Collector<Long> c = open("m", 1);
    c.close();
    new CollectorMetrics(c).bindTo(registry);
    assertEquals(List.of(), registry.getMeters());
  }

  @Test
  void bindingRacingClose_leavesNoMeters() throws Exception {
    for (int i = 0; i < 200; i++) {
      Collector<Long> c = open("race-" + i, 1);
      var metrics = new CollectorMetrics(c);
      var start = new CountDownLatch(1);
      Thread binder = Thread.ofVirtual().start(afterLatch(start, () -> metrics.bindTo(registry)));
      Thread closer = Thread.ofVirtual().start(afterLatch(start, c::close));
      start.countDown();
      binder.join();
      closer.join();
      assertEquals(List.of(), registry.getMeters(), "iteration " + i);
    }
  }

  private static Runnable afterLatch(CountDownLatch latch, Runnable action) {
    return () -> {
      try {
        latch.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      action.run();
    };
  }

  // Issue 13, point 2: two live collectors may not share a name on one registry.
  @Test
  void twoLiveCollectorsWithOneName_secondBindingFailsClearly_andTheNameIsFreeAfterClose()
      throws Exception {
    Collector<Long> first = open("same", 5);
    Collector<Long> second = open("same", 7);
    new CollectorMetrics(first).bindTo(registry);
    var e =
        assertThrows(
            IllegalStateException.class, () -> new CollectorMetrics(second).bindTo(registry));
    assertTrue(
        e.getMessage().contains("'same'") && e.getMessage().contains("name"), e.getMessage());
    first.process(2, b -> {});
    first.close();
    new CollectorMetrics(second).bindTo(registry);
    second.process(2, b -> {});
    assertEquals(
        7,
        registry.get("collector.committed").tag("collector", "same").gauge().value(),
        "the gauges show the live collector, not the closed one");
    assertEquals(
        7,
        registry.get("collector.batches.acknowledged").tag("collector", "same").counter().count(),
        "counters start over with the new collector");
    second.close();
  }

  // Issue 13, point 3: one collector bound to two registries feeds both.
  @Test
  void oneCollectorOnTwoRegistries_bothCountEverything() throws Exception {
    var other = new SimpleMeterRegistry();
    Collector<Long> c = open("m", 6);
    bound(c, registry, other, other); // binding the same registry again changes nothing
    c.process(3, b -> {});
    for (MeterRegistry r : List.of(registry, other)) {
      assertEquals(6, r.get("collector.batches.acknowledged").counter().count());
      assertEquals(
          6, r.get("collector.handler.duration").tag("outcome", "success").timer().count());
      assertEquals(6, r.get("collector.committed").gauge().value());
    }
    c.close();
    assertEquals(List.of(), registry.getMeters());
    assertEquals(List.of(), other.getMeters());
  }

  // Issue 13, point 6: handler and commit latency have buckets, so a p99 can be computed.
  @Test
  void handlerAndCommitTimers_publishBoundedHistograms() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c = open("h", 20);
    new CollectorMetrics(c).bindTo(prometheus);
    c.process(4, b -> {});
    String scrape = prometheus.scrape();
    for (String timer :
        List.of("collector_handler_duration_seconds", "collector_commit_duration_seconds")) {
      assertTrue(scrape.contains("# TYPE " + timer + " histogram"), timer + " is a histogram");
      long buckets =
          scrape
              .lines()
              .filter(
                  l ->
                      l.startsWith(timer + "_bucket{")
                          && l.contains("collector=\"h\"")
                          && !l.contains("outcome=\"failure\"")
                          && !l.contains("outcome=\"timeout\""))
              .count();
      assertTrue(buckets >= 20 && buckets <= 80, timer + " buckets: " + buckets);
    }
    Timer handler = prometheus.get("collector.handler.duration").tag("outcome", "success").timer();
    assertTrue(handler.takeSnapshot().histogramCounts().length > 0);
    // the rarer timers stay summaries: no buckets
    assertFalse(scrape.contains("collector_fetch_duration_seconds_bucket"));
    assertFalse(scrape.contains("collector_window_full_wait_seconds_bucket"));
    c.close();
  }

  // Issue 13, point 7: the misuse counter exists from the start, at 0, once per kind.
  @Test
  void misuseCounters_areRegisteredUpFront_oncePerKind() {
    Collector<Long> c = open("m", 1);
    new CollectorMetrics(c).bindTo(registry);
    Set<String> kinds =
        Arrays.stream(MisuseException.class.getPermittedSubclasses())
            .map(Class::getSimpleName)
            .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(6, kinds.size());
    Set<String> registered = new TreeSet<>();
    for (Meter m : registry.find("collector.misuse").tag("collector", "m").meters()) {
      registered.add(m.getId().getTag("kind"));
      assertEquals(0, ((Counter) m).count());
    }
    assertEquals(kinds, registered);
    c.close();
  }
}
