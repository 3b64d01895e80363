package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.collector.AckOrdering;
import dev.collector.BatchFailedException;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.OutOfOrderAckException;
import dev.collector.ProcessSummary;
import dev.collector.ReentrantCallException;
import dev.collector.Retry;
import dev.collector.StaleDeliveryException;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Attacks on CollectorMetrics, written from the documentation only (README "Observability", ADR 5,
 * the CollectorMetrics javadoc, docs/contract.md). Tests annotated {@code @Disabled} expose a
 * defect: remove the annotation to see it fail.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MetricsAttackTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  private static Collector<Long> open(String name, long batches) {
    return Collecting.open(
        FakeSource.generated(batches, 1),
        new RecordingCheckpointStore(),
        CollectorOptions.builder().name(name).build());
  }

  private static List<Meter> metersOf(MeterRegistry r, String collector) {
    return r.getMeters().stream()
        .filter(m -> collector.equals(m.getId().getTag("collector")))
        .toList();
  }

  private static double count(MeterRegistry r, String meter, String collector) {
    return r.get(meter).tag("collector", collector).counter().count();
  }

  /** How many meters one binding registers (7 gauges, 7 counters, 6 timers, 6 misuse). */
  private static int metersPerBinding() {
    var r = new SimpleMeterRegistry();
    Collector<Long> c = open("probe", 1);
    new CollectorMetrics(c).bindTo(r);
    int n = r.getMeters().size();
    c.close();
    return n;
  }

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

  // ---------------------------------------------------------------------------------------
  // Binding and registries
  // ---------------------------------------------------------------------------------------

  /** A meter listener (or registry) that throws while bindTo registers the meters. */
  @Test
  void failingRegistration_leavesNoMeters_andDoesNotBlockTheName() {
    var registry = new SimpleMeterRegistry();
    AtomicBoolean poison = new AtomicBoolean(true);
    registry
        .config()
        .onMeterAdded(
            m -> {
              if (poison.get() && m.getId().getName().equals("collector.batches.retried")) {
                throw new IllegalStateException("registration refused");
              }
            });
    Collector<Long> c = open("half", 3);
    assertThrows(IllegalStateException.class, () -> new CollectorMetrics(c).bindTo(registry));
    assertEquals(
        List.of(), metersOf(registry, "half"), "a bindTo that threw must not leave meters behind");
    poison.set(false);
    // the user fixes the registry and binds again: the same collector, so no name clash
    new CollectorMetrics(c).bindTo(registry);
    c.close();
    assertEquals(List.of(), metersOf(registry, "half"), "close removes every meter");
  }

  /**
   * A registration that fails is not retried by Micrometer: the collector's close (and the
   * binder's) after it has nothing left to remove, and the registry keeps no meter of it.
   */
  @Test
  void failingRegistration_closeAfterwardsRemovesNothingElse() {
    var registry = new SimpleMeterRegistry();
    Counter mine =
        Counter.builder("collector.batches.retried").tag("collector", "other").register(registry);
    registry
        .config()
        .onMeterAdded(
            m -> {
              if (m.getId().getName().equals("collector.batches.retried")) {
                throw new IllegalStateException("registration refused");
              }
            });
    Collector<Long> c = open("half", 3);
    var binder = new CollectorMetrics(c);
    assertThrows(IllegalStateException.class, () -> binder.bindTo(registry));
    binder.close();
    c.close();
    assertEquals(List.of(mine), registry.getMeters(), "only the user's meter is left");
  }

  /** A MeterFilter that denies one gauge (e.g. "we don't chart capacity"). */
  @Test
  void denyingFilter_twoLiveCollectorsWithOneName_secondBindStillRejected() throws Exception {
    var registry = new SimpleMeterRegistry();
    registry.config().meterFilter(MeterFilter.denyNameStartsWith("collector.capacity"));
    Collector<Long> first = open("dup", 3);
    Collector<Long> second = open("dup", 5);
    new CollectorMetrics(first).bindTo(registry);
    assertThrows(
        IllegalStateException.class,
        () -> new CollectorMetrics(second).bindTo(registry),
        "README: two live collectors with one name cannot be bound to one registry");
    first.close();
    second.close();
  }

  /**
   * With a denying filter, each collector still counts alone, and closing one keeps the other's
   * meters.
   */
  @Test
  void denyingFilter_sequentialCollectorsWithOneName_eachCountsAlone() throws Exception {
    var registry = new SimpleMeterRegistry();
    registry.config().meterFilter(MeterFilter.denyNameStartsWith("collector.capacity"));
    Collector<Long> first = open("dup", 3);
    new CollectorMetrics(first).bindTo(registry);
    first.process(2, b -> {});
    assertEquals(3, count(registry, "collector.batches.acknowledged", "dup"));
    first.close();
    assertEquals(List.of(), metersOf(registry, "dup"));
    Collector<Long> second = open("dup", 5);
    new CollectorMetrics(second).bindTo(registry);
    second.process(2, b -> {});
    assertEquals(5, count(registry, "collector.batches.acknowledged", "dup"), "from zero");
    second.close();
    assertEquals(List.of(), registry.getMeters());
  }

  /** A MeterFilter that renames (prefixes) meters, the most common Micrometer customization. */
  @Test
  void renamingFilter_twoLiveCollectorsWithOneName_secondBindStillRejected() {
    var registry = new SimpleMeterRegistry();
    registry
        .config()
        .meterFilter(
            new MeterFilter() {
              @Override
              public Meter.Id map(Meter.Id id) {
                return id.withName("myapp." + id.getName());
              }
            });
    Collector<Long> first = open("dup", 3);
    Collector<Long> second = open("dup", 5);
    new CollectorMetrics(first).bindTo(registry);
    try {
      assertThrows(
          IllegalStateException.class, () -> new CollectorMetrics(second).bindTo(registry));
    } finally {
      first.close();
      second.close();
    }
  }

  @Test
  void renamingFilter_closeStillRemovesEveryMeter() throws Exception {
    var registry = new SimpleMeterRegistry();
    registry
        .config()
        .meterFilter(
            new MeterFilter() {
              @Override
              public Meter.Id map(Meter.Id id) {
                return id.withName("myapp." + id.getName());
              }
            });
    registry.config().commonTags("app", "orders", "collector", "overridden?");
    Collector<Long> c = open("ren", 4);
    new CollectorMetrics(c).bindTo(registry);
    c.process(2, b -> {});
    assertEquals(
        4,
        count(registry, "myapp.collector.batches.acknowledged", "ren"),
        "the binder's own collector tag wins over a common tag");
    c.close();
    assertEquals(List.of(), registry.getMeters());
  }

  /**
   * The javadoc: "One collector may be bound to several registries ... Binding it to the same
   * registry again changes nothing." Two binders of one collector (e.g. a Spring MeterBinder bean
   * plus a manual bindTo).
   */
  @Test
  void sameCollector_secondBinder_sameRegistry_changesNothing() throws Exception {
    var registry = new SimpleMeterRegistry();
    Collector<Long> c = open("twice", 3);
    new CollectorMetrics(c).bindTo(registry);
    new CollectorMetrics(c).bindTo(registry); // must not throw
    c.process(2, b -> {});
    assertEquals(3, count(registry, "collector.batches.acknowledged", "twice"), "no double count");
    c.close();
  }

  /**
   * A collector dropped without close() (documented: its name is freed once it is collected); the
   * user still holds its binder (try-with-resources, a bean) and closes it later.
   */
  @Test
  void staleBinderClose_doesNotRemoveTheMetersOfTheNewCollectorWithThatName() throws Exception {
    var registry = new SimpleMeterRegistry();
    CollectorMetrics oldBinder = bindAndDrop(registry, "job");
    Collector<Long> next = open("job", 4);
    new CollectorMetrics(next).bindTo(registry); // documented: the name is free again
    int bound = metersOf(registry, "job").size();
    oldBinder.close();
    assertEquals(
        bound,
        metersOf(registry, "job").size(),
        "the old binder removed the new collector's meters");
    next.close();
  }

  private static CollectorMetrics bindAndDrop(MeterRegistry registry, String name) {
    Collector<Long> dropped = open(name, 3);
    var binder = new CollectorMetrics(dropped);
    binder.bindTo(registry);
    List<WeakReference<Collector<Long>>> ref = List.of(new WeakReference<>(dropped));
    dropped = null;
    awaitCollected(ref);
    return binder;
  }

  /**
   * The user's own meter next to ours, same tag (to join it on the dashboard). A collector of that
   * name was dropped without close() and collected; binding the next one "removes the meters of one
   * that was garbage-collected" -- and the user's meter with them.
   */
  @Test
  void bindingOverACollectedCollectorsName_keepsMetersTheBinderDidNotRegister() {
    var registry = new SimpleMeterRegistry();
    Counter mine =
        Counter.builder("collector.lag.records").tag("collector", "job").register(registry);
    mine.increment(42);
    bindAndDrop(registry, "job"); // the binder is dropped too
    Collector<Long> next = open("job", 2);
    new CollectorMetrics(next).bindTo(registry);
    assertEquals(
        42,
        registry.find("collector.lag.records").tag("collector", "job").counter() == null
            ? -1
            : registry.get("collector.lag.records").counter().count(),
        "the user's meter was removed by bindTo");
    next.close();
  }

  /**
   * README: progress() never blocks, "also while close() waits for a slow final commit": a scrape
   * during such a close() returns.
   */
  @Test
  void scrapeWhileCloseWaitsForASlowFinalCommit_returns() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    var committing = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    dev.collector.CheckpointStore blocking =
        new dev.collector.CheckpointStore() {
          private volatile dev.collector.Checkpoint last;

          @Override
          public dev.collector.Checkpoint load() {
            return last;
          }

          @Override
          public void commit(dev.collector.Checkpoint checkpoint) throws IOException {
            committing.countDown();
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new IOException("interrupted", e);
            }
            last = checkpoint;
          }
        };
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            blocking,
            CollectorOptions.builder().name("slowclose").build());
    new CollectorMetrics(c).bindTo(prometheus);
    c.next().ack();
    assertTrue(committing.await(10, TimeUnit.SECONDS));
    // own threads: the common pool may have a single worker on a 2-core machine
    CompletableFuture<Void> closing =
        CompletableFuture.runAsync(c::close, Thread::startVirtualThread);
    try {
      String scrape =
          CompletableFuture.supplyAsync(prometheus::scrape, Thread::startVirtualThread)
              .get(5, TimeUnit.SECONDS);
      assertTrue(scrape.contains("collector_fetched{collector=\"slowclose\"}"), scrape);
    } finally {
      release.countDown();
      closing.get(10, TimeUnit.SECONDS);
    }
    assertEquals(List.of(), prometheus.getMeters());
  }

  /**
   * Binding in the middle of a run: the gauges show the run at once, counters count from the bind
   * on, and the run ends normally.
   */
  @Test
  void bindingMidRun_gaugesShowTheRun_countersCountFromTheBind() throws Exception {
    var registry = new SimpleMeterRegistry();
    Collector<Long> c = open("mid", 20);
    var held = new CountDownLatch(1);
    var started = new CountDownLatch(4);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            4,
            b -> {
              started.countDown();
              held.await();
            });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    new CollectorMetrics(c).bindTo(registry);
    assertEquals(4, registry.get("collector.capacity").gauge().value());
    assertEquals(4, registry.get("collector.in.flight").gauge().value());
    held.countDown();
    assertEquals(20, run.await(WAIT).batches());
    assertEquals(
        20,
        count(registry, "collector.batches.acknowledged", "mid"),
        "the 4 running batches are acknowledged after the bind");
    assertEquals(
        16,
        count(registry, "collector.batches.fetched", "mid"),
        "fetched before the bind are not counted");
    c.close();
  }

  /** Pauses the removal of one meter, so a test can act while close() is half-way. */
  private static final class PausingRegistry extends SimpleMeterRegistry {
    final CountDownLatch reached = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    volatile String pauseAt;

    @Override
    public Meter remove(Meter meter) {
      if (meter.getId().getName().equals(pauseAt)) {
        pauseAt = null;
        reached.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return super.remove(meter);
    }
  }

  /**
   * The ADR's per-job pattern: job N closes on one thread while job N+1, same name, binds on
   * another. Either the second bindTo is refused (the name is still taken) or it works; it must
   * never succeed with meters that vanish.
   */
  @Test
  void bindRacingCloseOfPreviousSameNameCollector_neverLeavesTheNewOneWithoutMeters()
      throws Exception {
    var registry = new PausingRegistry();
    int full = metersPerBinding();
    Collector<Long> previous = open("job", 3);
    new CollectorMetrics(previous).bindTo(registry);
    previous.process(2, b -> {});
    registry.pauseAt = "collector.stuck"; // removed right after collector.capacity
    CompletableFuture<Void> closing =
        CompletableFuture.runAsync(previous::close, Thread::startVirtualThread);
    assertTrue(registry.reached.await(10, TimeUnit.SECONDS));
    Collector<Long> next = open("job", 4);
    boolean bound;
    try {
      new CollectorMetrics(next).bindTo(registry);
      bound = true;
    } catch (IllegalStateException refused) {
      bound = false; // acceptable: the previous close() has not returned
    }
    registry.release.countDown();
    closing.get(10, TimeUnit.SECONDS);
    if (bound) {
      next.process(2, b -> {});
      assertEquals(full, metersOf(registry, "job").size(), "the new collector lost meters");
      assertEquals(
          4,
          count(registry, "collector.batches.acknowledged", "job"),
          "the new collector's counters start from zero");
    }
    next.close();
  }

  @Test
  void binderClose_isIdempotent_bindAfterCloseThrows_bindOfClosedCollectorIsSilent() {
    var registry = new SimpleMeterRegistry();
    Collector<Long> c = open("bc", 2);
    var binder = new CollectorMetrics(c);
    binder.bindTo(registry);
    binder.close();
    binder.close();
    assertEquals(List.of(), registry.getMeters());
    assertThrows(IllegalStateException.class, () -> binder.bindTo(registry));
    c.close();
    binder.close(); // after the collector closed, too
    new CollectorMetrics(c).bindTo(registry);
    assertEquals(List.of(), registry.getMeters());
  }

  /**
   * binder.close() while a run goes on, handlers blocked: the run is not disturbed and no meter
   * comes back (no re-registration from a late event).
   */
  @Test
  void binderCloseRacingARunningProcess_runCompletes_noMeterComesBack() throws Exception {
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(200, 2), store, CollectorOptions.builder().name("live").build());
    var binder = new CollectorMetrics(c);
    binder.bindTo(registry);
    var started = new CountDownLatch(8);
    var go = new CountDownLatch(1);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            8,
            b -> {
              started.countDown();
              go.await();
            });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    var closer = CompletableFuture.runAsync(binder::close, Thread::startVirtualThread);
    go.countDown();
    closer.get(10, TimeUnit.SECONDS);
    ProcessSummary s = run.await(WAIT);
    assertEquals(200, s.batches());
    assertEquals(List.of(), registry.getMeters());
    assertFalse(registry.scrape().contains("collector_"), registry.scrape());
    c.close();
  }

  /** One collector on two registries; one registry is closed (app shutdown of one exporter). */
  @Test
  void oneOfTwoRegistriesClosed_runGoesOn_otherCountsEverything() throws Exception {
    var a = new SimpleMeterRegistry();
    var b = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c = open("two", 10);
    var binder = new CollectorMetrics(c);
    binder.bindTo(a);
    binder.bindTo(b);
    a.close();
    assertEquals(10, c.process(3, x -> {}).batches());
    assertEquals(10, count(b, "collector.batches.acknowledged", "two"));
    c.close();
    assertEquals(List.of(), b.getMeters());
  }

  /**
   * A registry whose meter-removed listener throws: the binder's close still removes every other
   * meter from it and every meter from the other registry, frees the name in both, and reports the
   * failure.
   */
  @Test
  void binderClose_registryRemovalThrows_otherMetersAndRegistriesStillCleaned() {
    var failing = new SimpleMeterRegistry();
    var other = new SimpleMeterRegistry();
    failing
        .config()
        .onMeterRemoved(
            m -> {
              if (m.getId().getName().equals("collector.commits")) {
                throw new IllegalStateException("listener broke");
              }
            });
    Collector<Long> c = open("rm", 2);
    var binder = new CollectorMetrics(c);
    binder.bindTo(failing);
    binder.bindTo(other);
    assertThrows(IllegalStateException.class, binder::close);
    assertEquals(List.of(), failing.getMeters(), "removed before its listener threw");
    assertEquals(List.of(), other.getMeters());
    Collector<Long> next = open("rm", 2);
    new CollectorMetrics(next).bindTo(failing); // the name is free again
    new CollectorMetrics(next).bindTo(other);
    c.close();
    next.close();
  }

  /** Child registry added to a composite after binding, and a composite with two children. */
  @Test
  void compositeRegistry_childrenGetTheMeters_closeRemovesThemFromEveryChild() throws Exception {
    var composite = new CompositeMeterRegistry();
    var simple = new SimpleMeterRegistry();
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    composite.add(simple);
    Collector<Long> c = open("comp", 6);
    new CollectorMetrics(c).bindTo(composite);
    composite.add(prometheus);
    c.process(2, x -> {});
    assertEquals(6, count(simple, "collector.batches.acknowledged", "comp"));
    assertEquals(6, count(prometheus, "collector.batches.acknowledged", "comp"));
    assertEquals(6, prometheus.get("collector.committed").gauge().value());
    c.close();
    assertEquals(List.of(), composite.getMeters());
    assertEquals(List.of(), simple.getMeters());
    assertEquals(List.of(), prometheus.getMeters());
  }

  /**
   * Many collectors on 4 threads, opened, bound, run, closed, on a composite of two registries with
   * a deny filter and common tags: meters back to the start, every collector collectable.
   */
  @Test
  void manyCollectorsConcurrently_onComposite_metersBackToStart_andCollectable() throws Exception {
    var composite = new CompositeMeterRegistry();
    var simple = new SimpleMeterRegistry();
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    composite.add(simple).add(prometheus);
    composite.config().commonTags("app", "attack");
    composite.config().meterFilter(MeterFilter.denyNameStartsWith("collector.window"));
    Counter.builder("app.other").register(composite);
    int compositeBefore = composite.getMeters().size();
    int simpleBefore = simple.getMeters().size();
    int prometheusBefore = prometheus.getMeters().size();
    List<WeakReference<Collector<Long>>> refs = new ArrayList<>();
    List<CompletableFuture<Void>> workers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int thread = t;
      workers.add(
          CompletableFuture.runAsync(
              () -> {
                for (int i = 0; i < 25; i++) {
                  Collector<Long> c = open("w" + thread + "-" + i, 3);
                  new CollectorMetrics(c).bindTo(composite);
                  try {
                    c.process(2, b -> {});
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                  synchronized (refs) {
                    refs.add(new WeakReference<>(c));
                  }
                  c.close();
                }
              },
              Thread::startVirtualThread));
    }
    CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).get(40, TimeUnit.SECONDS);
    assertEquals(compositeBefore, composite.getMeters().size());
    assertEquals(simpleBefore, simple.getMeters().size());
    assertEquals(prometheusBefore, prometheus.getMeters().size());
    assertFalse(prometheus.scrape().contains("collector_"));
    assertEquals(100, refs.size());
    awaitCollected(refs);
  }

  /**
   * PrometheusMeterRegistry: a name closed and reopened several times, next to another live
   * collector, scrapes the full set each time (no series lost by the remove/re-register).
   */
  @Test
  void prometheus_reopenSameNameNextToALiveOne_fullSeriesEachTime() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> steady = open("steady", 2);
    new CollectorMetrics(steady).bindTo(prometheus);
    long steadyLines = seriesOf(prometheus.scrape(), "steady");
    Long jobLines = null;
    for (int i = 0; i < 3; i++) {
      Collector<Long> job = open("job", 5);
      new CollectorMetrics(job).bindTo(prometheus);
      job.process(2, b -> {});
      String scrape = prometheus.scrape();
      long lines = seriesOf(scrape, "job");
      if (jobLines == null) {
        jobLines = lines;
      }
      assertEquals(jobLines, lines, "round " + i);
      assertEquals(steadyLines, seriesOf(scrape, "steady"), "round " + i);
      assertTrue(
          scrape.contains("collector_batches_acknowledged_total{collector=\"job\"} 5.0"),
          "round " + i + ": counters start at zero each time");
      job.close();
      assertEquals(0, seriesOf(prometheus.scrape(), "job"));
    }
    steady.close();
  }

  private static long seriesOf(String scrape, String collector) {
    return scrape
        .lines()
        .filter(l -> !l.startsWith("#"))
        .filter(l -> l.contains("collector=\"" + collector + "\""))
        .count();
  }

  // ---------------------------------------------------------------------------------------
  // Telemetry listener failures
  // ---------------------------------------------------------------------------------------

  /** A registry whose counter for one meter throws on increment. */
  private static final class PoisonRegistry extends SimpleMeterRegistry {
    private final String poisoned;
    private final Supplier<Throwable> failure;

    PoisonRegistry(String poisoned, Supplier<Throwable> failure) {
      this.poisoned = poisoned;
      this.failure = failure;
    }

    @Override
    protected Counter newCounter(Meter.Id id) {
      Counter real = super.newCounter(id);
      if (!id.getName().equals(poisoned)) {
        return real;
      }
      return new Counter() {
        @Override
        public void increment(double amount) {
          Throwable t = failure.get();
          if (t instanceof RuntimeException e) {
            throw e;
          }
          throw (Error) t;
        }

        @Override
        public double count() {
          return real.count();
        }

        @Override
        public Meter.Id getId() {
          return id;
        }
      };
    }
  }

  /** contract.md: a listener's RuntimeException loses its event; the run goes on. */
  @Test
  void listenerRuntimeException_onEveryCommit_runCompletes_commitsDurable_otherRegistryCounts()
      throws Exception {
    for (String poisoned :
        List.of(
            "collector.commits", "collector.batches.acknowledged", "collector.batches.fetched")) {
      var poison = new PoisonRegistry(poisoned, () -> new IllegalStateException("meter broke"));
      var other = new SimpleMeterRegistry();
      var store = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(50, 1), store, CollectorOptions.builder().name("lr").build());
      var binder = new CollectorMetrics(c);
      binder.bindTo(poison);
      binder.bindTo(other);
      ProcessSummary s = c.process(4, b -> {});
      assertEquals(50, s.batches(), poisoned);
      assertEquals(50, store.history().getLast().sequence(), poisoned);
      assertEquals(50, count(other, "collector.batches.acknowledged", "lr"), poisoned);
      assertEquals(store.history().size(), count(other, "collector.commits", "lr"), poisoned);
      c.close();
    }
  }

  /**
   * A listener throwing an Error: e.g. NoSuchMethodError from a Micrometer version mismatch
   * (Micrometer is an optional dependency, so the user picks its version). The commit was durable;
   * the run fails and blames the checkpoint store.
   */
  @Test
  void listenerError_afterDurableCommit_doesNotFailTheRunAsACheckpointFailure() throws Exception {
    var poison = new PoisonRegistry("collector.commits", () -> new NoSuchMethodError("m"));
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(20, 1), store, CollectorOptions.builder().name("le").build());
    new CollectorMetrics(c).bindTo(poison);
    try {
      ProcessSummary s = c.process(4, b -> {});
      assertEquals(20, s.batches());
    } catch (dev.collector.CheckpointException e) {
      fail("the store committed " + store.history() + " without failing, yet the run threw " + e);
    } finally {
      c.close();
    }
  }

  @Test
  void listenerError_onAcknowledged_isDroppedAndTheRunCompletes() throws Exception {
    var poison =
        new PoisonRegistry("collector.batches.acknowledged", () -> new NoSuchMethodError("m"));
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(20, 1), store, CollectorOptions.builder().name("le2").build());
    new CollectorMetrics(c).bindTo(poison);
    assertEquals(20, c.process(4, b -> {}).batches()); // telemetry never changes what a run does
    c.close();
  }

  // ---------------------------------------------------------------------------------------
  // Values
  // ---------------------------------------------------------------------------------------

  /** N batches, R retries, D dead letters, one timeout: every counter and timer adds up. */
  @Test
  void exactAccounting_retriesDeadLettersTimeout() throws Exception {
    var registry = new SimpleMeterRegistry();
    var store = new RecordingCheckpointStore();
    AtomicInteger deadLetters = new AtomicInteger();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(30, 2),
            store,
            CollectorOptions.builder()
                .name("acc")
                .batchTimeout(Duration.ofMillis(300))
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO))
                        .thenDeadLetter((b, cause) -> deadLetters.incrementAndGet()))
                .build());
    new CollectorMetrics(c).bindTo(registry);
    ProcessSummary s =
        c.process(
            4,
            b -> {
              if (b.sequence() == 5 && b.attempt() == 1) {
                throw new IOException("transient"); // 1 failure, 1 retry
              }
              if (b.sequence() == 10) {
                throw new IOException("poison"); // 3 failures, 2 retries, 1 dead letter
              }
              if (b.sequence() == 15 && b.attempt() == 1) {
                new CountDownLatch(1).await(); // 1 timeout, 1 retry
              }
            });
    assertEquals(1, deadLetters.get());
    assertEquals(1, s.deadLettered());
    assertEquals(30, count(registry, "collector.batches.fetched", "acc"));
    assertEquals(29, count(registry, "collector.batches.acknowledged", "acc"));
    assertEquals(58, count(registry, "collector.records", "acc"));
    assertEquals(5, count(registry, "collector.batches.failed", "acc"));
    assertEquals(4, count(registry, "collector.batches.retried", "acc"));
    assertEquals(1, count(registry, "collector.batches.dead.lettered", "acc"));
    assertEquals(s.commits(), count(registry, "collector.commits", "acc"));
    assertEquals(store.history().size(), (long) count(registry, "collector.commits", "acc"));
    assertEquals(s.commits(), registry.get("collector.commit.duration").timer().count());
    assertEquals(30, registry.get("collector.fetch.duration").timer().count());
    assertEquals(29, handlerCount(registry, "success"));
    assertEquals(4, handlerCount(registry, "failure"));
    assertEquals(1, handlerCount(registry, "timeout"));
    assertEquals(30, registry.get("collector.committed").gauge().value());
    c.close();
  }

  private static long handlerCount(MeterRegistry r, String outcome) {
    return r.get("collector.handler.duration").tag("outcome", outcome).timer().count();
  }

  /**
   * contract.md: failures that are the echo of the run's own cancellation are not reported. README:
   * collector.batches.failed counts failed handler attempts. One handler fails under fail-fast;
   * three others are interrupted by the run: one failure, not four.
   */
  @Test
  void failFast_handlersInterruptedByTheRun_areNotCountedAsFailures() throws Exception {
    var registry = new SimpleMeterRegistry();
    Collector<Long> c = open("ff", 10);
    new CollectorMetrics(c).bindTo(registry);
    var othersRunning = new CountDownLatch(3);
    assertThrows(
        BatchFailedException.class,
        () ->
            c.process(
                4,
                b -> {
                  if (b.sequence() == 0) {
                    othersRunning.await();
                    throw new IOException("the one real failure");
                  }
                  othersRunning.countDown();
                  new CountDownLatch(1).await(); // interrupted by the run's cancellation
                }));
    assertEquals(1, count(registry, "collector.batches.failed", "ff"));
    assertEquals(1, handlerCount(registry, "failure"));
    c.close();
  }

  /** Same question for close() during a run and for an interrupted owner. */
  @Test
  void cancelledRun_closeOrInterrupt_countsNoFailures() throws Exception {
    Map<String, Double> failedByCancellation = new TreeMap<>();
    for (String how : List.of("close", "interrupt", "stop-zero-drain")) {
      var registry = new SimpleMeterRegistry();
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(10, 1),
              new RecordingCheckpointStore(),
              CollectorOptions.builder().name("cx").drainTimeout(Duration.ZERO).build());
      new CollectorMetrics(c).bindTo(registry);
      var running = new CountDownLatch(4);
      BackgroundRun run =
          BackgroundRun.start(
              c,
              4,
              b -> {
                running.countDown();
                new CountDownLatch(1).await();
              });
      assertTrue(running.await(10, TimeUnit.SECONDS));
      // held before close() removes the meters from the registry
      Counter failed = registry.get("collector.batches.failed").counter();
      switch (how) {
        case "close" -> c.close();
        case "interrupt" -> {
          run.owner.interrupt();
          run.awaitFailure(WAIT);
        }
        default -> {
          assertTrue(c.stop());
          assertTrue(run.await(WAIT).stopped());
        }
      }
      failedByCancellation.put(how, failed.count());
      c.close();
    }
    assertEquals(
        Map.of("close", 0.0, "interrupt", 0.0, "stop-zero-drain", 0.0), failedByCancellation);
  }

  /** Two different collectors with one name race bindTo on one registry: exactly one wins. */
  @Test
  void twoSameNameCollectorsRacingBindTo_exactlyOneWins() throws Exception {
    for (int round = 0; round < 50; round++) {
      var registry = new SimpleMeterRegistry();
      Collector<Long> a = open("race", 1);
      Collector<Long> b = open("race", 1);
      var start = new CountDownLatch(1);
      AtomicInteger wins = new AtomicInteger();
      AtomicInteger refused = new AtomicInteger();
      List<Thread> threads = new ArrayList<>();
      for (Collector<Long> c : List.of(a, b)) {
        var binder = new CollectorMetrics(c);
        threads.add(
            Thread.startVirtualThread(
                () -> {
                  try {
                    start.await();
                    binder.bindTo(registry);
                    wins.incrementAndGet();
                  } catch (IllegalStateException e) {
                    refused.incrementAndGet();
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                }));
      }
      start.countDown();
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(1, wins.get(), "round " + round);
      assertEquals(1, refused.get(), "round " + round);
      a.close();
      b.close();
      assertEquals(List.of(), registry.getMeters(), "round " + round);
    }
  }

  /**
   * Scrapes never fail while collectors are opened, bound and closed on another thread: the ADR's
   * per-job pattern (reopen with the same name, to keep cardinality bounded). Upstream cause:
   * micrometer-metrics/micrometer#6851 (a scrape sees a removed and a re-registered child with
   * identical labels); Micrometer 1.17.2 still has it. The whole scrape fails, so every metric of
   * the application is lost for that scrape. Racy: fails most runs, not all.
   */
  @Test
  @Disabled(
      "defect: a Prometheus scrape racing close + reopen of a same-name collector fails with"
          + " DuplicateLabelsException (upstream micrometer#6851, fix #7508 in no release: 1.17.2 and"
          + " 1.18.0-M1 both fail); documented in README, docs/observability.md and ADR 5")
  void prometheusScrapes_racingOpenBindClose_neverThrow() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AtomicBoolean done = new AtomicBoolean();
    AtomicReference<Throwable> scrapeFailure = new AtomicReference<>();
    AtomicInteger scrapes = new AtomicInteger();
    Thread scraper =
        Thread.startVirtualThread(
            () -> {
              while (!done.get()) {
                try {
                  prometheus.scrape();
                  scrapes.incrementAndGet();
                } catch (Throwable t) {
                  scrapeFailure.compareAndSet(null, t);
                }
              }
            });
    await().atMost(WAIT).until(() -> scrapes.get() > 0);
    for (int i = 0; i < 300 && scrapeFailure.get() == null; i++) {
      Collector<Long> c = open("job", 3);
      new CollectorMetrics(c).bindTo(prometheus);
      c.process(2, b -> {});
      c.close();
    }
    done.set(true);
    scraper.join();
    assertEquals(null, scrapeFailure.get());
    assertEquals(List.of(), prometheus.getMeters());
  }

  /** The stuck gauge and the oldest-running gauge follow a held pull delivery. */
  @Test
  void stuckGauge_risesForAHeldDelivery_andFallsWhenSettled() throws Exception {
    var registry = new SimpleMeterRegistry();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("stuck").stuckThreshold(Duration.ofMillis(50)).build());
    new CollectorMetrics(c).bindTo(registry);
    Delivery<Long> d = c.next();
    assertEquals(
        16,
        registry.get("collector.capacity").gauge().value(),
        "capacity of a pull session is CollectorOptions.depth");
    await().atMost(WAIT).until(() -> registry.get("collector.stuck").gauge().value() == 1);
    d.ack();
    await()
        .atMost(WAIT)
        .until(
            () ->
                registry.get("collector.stuck").gauge().value() == 0
                    && registry.get("collector.oldest.running").gauge().value() == 0);
    c.close();
  }

  /**
   * Failed commits and fetches that are retried: the commit counter counts durable commits only
   * (README), the fetch counter counts each batch once, the timers count what happened.
   */
  @Test
  void retriedCommitsAndFetches_countDurableCommitsAndEachBatchOnce() throws Exception {
    var registry = new SimpleMeterRegistry();
    var store = new RecordingCheckpointStore();
    var source = FakeSource.generated(20, 1).failFetch(7, 2);
    Collector<Long> c =
        Collecting.open(
            source,
            store,
            CollectorOptions.builder()
                .name("rt")
                .commitRetry(Retry.of(5, Duration.ZERO, Duration.ZERO))
                .fetchRetry(Retry.of(5, Duration.ZERO, Duration.ZERO))
                .build());
    new CollectorMetrics(c).bindTo(registry);
    store.failNextCommits(2);
    ProcessSummary s = c.process(4, b -> {});
    assertEquals(20, s.batches());
    assertEquals(20, count(registry, "collector.batches.fetched", "rt"));
    assertEquals(20, registry.get("collector.fetch.duration").timer().count());
    assertEquals(
        store.history().size(),
        (long) count(registry, "collector.commits", "rt"),
        "durable commits " + store.history());
    assertEquals(s.commits(), (long) count(registry, "collector.commits", "rt"));
    assertEquals(
        0,
        count(registry, "collector.batches.failed", "rt"),
        "a failed fetch or commit is not a failed handler attempt");
    c.close();
  }

  /**
   * Timer values are in the right unit and plausible: a handler held 100 ms shows >= 0.1 s, a pull
   * delivery held 100 ms likewise (README: "or a pull delivery until settled"), a slow store's
   * commits >= its latency, and the fetcher's window-full wait never exceeds the run.
   */
  @Test
  void timerValues_plausibleAndInTheRightUnit() throws Exception {
    var registry = new SimpleMeterRegistry();
    var store = new RecordingCheckpointStore();
    store.slowCommits(Duration.ofMillis(30));
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(6, 1), store, CollectorOptions.builder().name("tv").build());
    new CollectorMetrics(c).bindTo(registry);
    ProcessSummary s =
        c.process(
            1,
            b -> {
              if (b.sequence() == 2) {
                Thread.sleep(100);
              }
            });
    var handler = registry.get("collector.handler.duration").tag("outcome", "success").timer();
    assertTrue(
        handler.max(TimeUnit.SECONDS) >= 0.1, "handler max " + handler.max(TimeUnit.SECONDS));
    assertTrue(handler.max(TimeUnit.SECONDS) < 10);
    var commit = registry.get("collector.commit.duration").timer();
    assertTrue(commit.max(TimeUnit.SECONDS) >= 0.03, "commit max " + commit.max(TimeUnit.SECONDS));
    var wait = registry.get("collector.window.full.wait").timer();
    assertTrue(wait.count() >= 1, "depth 1: the fetcher waits for every batch");
    assertTrue(
        wait.totalTime(TimeUnit.NANOSECONDS) <= s.duration().toNanos(),
        "waited " + wait.totalTime(TimeUnit.MILLISECONDS) + " ms in a run of " + s.duration());

    Collector<Long> pull = open("tvp", 2);
    var pullRegistry = new SimpleMeterRegistry();
    new CollectorMetrics(pull).bindTo(pullRegistry);
    Delivery<Long> d = pull.next();
    long t0 = System.nanoTime();
    await().pollDelay(Duration.ofMillis(100)).until(() -> System.nanoTime() - t0 >= 100_000_000L);
    d.ack();
    var pullTimer =
        pullRegistry.get("collector.handler.duration").tag("outcome", "success").timer();
    assertEquals(1, pullTimer.count());
    assertTrue(
        pullTimer.totalTime(TimeUnit.SECONDS) >= 0.1,
        "pull delivery " + pullTimer.totalTime(TimeUnit.SECONDS));
    pull.close();
    c.close();
  }

  /**
   * A misuse racing close(): counted at most once, never throws from the binder, and no meter is
   * left or re-registered afterwards.
   */
  @Test
  void misuseRacingClose_leavesNoMeters() throws Exception {
    for (int round = 0; round < 30; round++) {
      var registry = new SimpleMeterRegistry();
      Collector<Long> c = open("mc", 5);
      new CollectorMetrics(c).bindTo(registry);
      Delivery<Long> d = c.next();
      d.ack();
      var start = new CountDownLatch(1);
      Thread misuser =
          Thread.startVirtualThread(
              () -> {
                try {
                  start.await();
                  d.fail(new IOException("conflict"));
                } catch (MisuseException expected) {
                  // ConflictingOutcomeException or CollectorClosedException
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      Thread closer =
          Thread.startVirtualThread(
              () -> {
                try {
                  start.await();
                } catch (InterruptedException e) {
                  return;
                }
                c.close();
              });
      start.countDown();
      misuser.join();
      closer.join();
      assertEquals(List.of(), registry.getMeters(), "round " + round);
    }
  }

  /**
   * Pull API: ack, repeated ack, fail (retry), repeated fail, abandon by close(), repeated close(),
   * conflicting outcome: counted as documented, each once.
   */
  @Test
  void pullApi_ackFailAbandon_countedOnce() throws Exception {
    var registry = new SimpleMeterRegistry();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 2),
            new RecordingCheckpointStore(),
            CollectorOptions.builder()
                .name("pull")
                .failurePolicy(FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO)))
                .build());
    new CollectorMetrics(c).bindTo(registry);
    Delivery<Long> d0 = c.next();
    assertTrue(d0.ack());
    assertFalse(d0.ack());
    Delivery<Long> d1 = c.next();
    assertTrue(d1.fail(new IOException("x")));
    assertFalse(d1.fail(new IOException("y")));
    assertThrows(ConflictingOutcomeException.class, d1::ack);
    Delivery<Long> d2 = c.next();
    assertEquals(1, d2.batch().sequence());
    d2.close(); // abandoned: a failure
    d2.close();
    Delivery<Long> d3 = c.next();
    assertEquals(3, d3.batch().attempt());
    assertTrue(d3.ack());
    c.awaitCommitted();
    assertEquals(2, count(registry, "collector.batches.acknowledged", "pull"));
    assertEquals(4, count(registry, "collector.records", "pull"));
    assertEquals(2, count(registry, "collector.batches.failed", "pull"));
    assertEquals(2, count(registry, "collector.batches.retried", "pull"));
    assertEquals(2, handlerCount(registry, "success"));
    assertEquals(2, handlerCount(registry, "failure"));
    assertEquals(
        1,
        registry
            .get("collector.misuse")
            .tag("kind", "ConflictingOutcomeException")
            .counter()
            .count());
    assertEquals(2, registry.get("collector.committed").gauge().value());
    c.close();
  }

  /**
   * Pull session closed with deliveries still held: close() commits the acknowledged prefix; the
   * held batches are delivered again by the next collector, they did not fail.
   */
  @Test
  void pullApi_closeWithHeldDeliveries_countsNoFailures_andCommitsMatchTheStore() throws Exception {
    var registry = new SimpleMeterRegistry();
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1), store, CollectorOptions.builder().name("held").build());
    new CollectorMetrics(c).bindTo(registry);
    c.next().ack();
    c.next().ack();
    c.next();
    c.next();
    Counter failed = registry.get("collector.batches.failed").counter();
    Counter commits = registry.get("collector.commits").counter();
    Counter acked = registry.get("collector.batches.acknowledged").counter();
    c.close();
    assertEquals(0, failed.count());
    assertEquals(2, acked.count());
    assertEquals(store.history().size(), (long) commits.count());
    assertEquals(2, store.history().getLast().sequence());
    assertEquals(List.of(), registry.getMeters());
  }

  /** Concurrent acks of one delivery: one wins, the counter moves once. */
  @Test
  void pullApi_concurrentAcksOfOneDelivery_countOnce() throws Exception {
    for (int round = 0; round < 50; round++) {
      var registry = new SimpleMeterRegistry();
      Collector<Long> c = open("cack", 2);
      new CollectorMetrics(c).bindTo(registry);
      Delivery<Long> d = c.next();
      var start = new CountDownLatch(1);
      AtomicInteger wins = new AtomicInteger();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        threads.add(
            Thread.startVirtualThread(
                () -> {
                  try {
                    start.await();
                  } catch (InterruptedException e) {
                    return;
                  }
                  if (d.ack()) {
                    wins.incrementAndGet();
                  }
                }));
      }
      start.countDown();
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(1, wins.get());
      assertEquals(1, count(registry, "collector.batches.acknowledged", "cack"), "round " + round);
      assertEquals(1, handlerCount(registry, "success"), "round " + round);
      c.close();
    }
  }

  /** Each misuse kind, provoked once on its own collector: its counter is 1, the others 0. */
  @Test
  void misuse_eachKindCountedExactlyOnce() throws Exception {
    var registry = new SimpleMeterRegistry();
    Map<String, String> collectorByKind = new TreeMap<>();

    Collector<Long> strict =
        Collecting.open(
            FakeSource.generated(5, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("k-order").ackOrdering(AckOrdering.STRICT).build());
    new CollectorMetrics(strict).bindTo(registry);
    strict.next();
    Delivery<Long> second = strict.next();
    assertThrows(OutOfOrderAckException.class, second::ack);
    collectorByKind.put("OutOfOrderAckException", "k-order");

    Collector<Long> conflict = open("k-conflict", 5);
    new CollectorMetrics(conflict).bindTo(registry);
    Delivery<Long> d = conflict.next();
    d.ack();
    assertThrows(ConflictingOutcomeException.class, () -> d.fail(new IOException()));
    collectorByKind.put("ConflictingOutcomeException", "k-conflict");

    Collector<Long> concurrent = open("k-concurrent", 5);
    new CollectorMetrics(concurrent).bindTo(registry);
    concurrent.next();
    assertThrows(ConcurrentUseException.class, () -> concurrent.process(2, b -> {}));
    collectorByKind.put("ConcurrentUseException", "k-concurrent");

    Collector<Long> reentrant = open("k-reentrant", 1);
    new CollectorMetrics(reentrant).bindTo(registry);
    AtomicReference<Throwable> seen = new AtomicReference<>();
    reentrant.process(
        1,
        b -> {
          try {
            reentrant.next();
          } catch (ReentrantCallException e) {
            seen.set(e);
          }
        });
    assertInstanceOf(ReentrantCallException.class, seen.get());
    collectorByKind.put("ReentrantCallException", "k-reentrant");

    Collector<Long> stale = open("k-stale", 5); // fail-fast
    new CollectorMetrics(stale).bindTo(registry);
    Delivery<Long> s0 = stale.next();
    Delivery<Long> s1 = stale.next();
    s0.fail(new IOException("ends the session"));
    assertThrows(BatchFailedException.class, stale::next);
    assertThrows(StaleDeliveryException.class, s1::ack);
    collectorByKind.put("StaleDeliveryException", "k-stale");

    Set<String> kinds =
        Arrays.stream(MisuseException.class.getPermittedSubclasses())
            .map(Class::getSimpleName)
            .collect(Collectors.toCollection(TreeSet::new));
    kinds.remove("CollectorClosedException"); // documented: not counted after close()
    assertEquals(kinds, collectorByKind.keySet());
    Map<String, Double> wrong = new TreeMap<>();
    for (var e : collectorByKind.entrySet()) {
      for (Meter m : registry.find("collector.misuse").tag("collector", e.getValue()).meters()) {
        double expected = m.getId().getTag("kind").equals(e.getKey()) ? 1 : 0;
        double actual = ((Counter) m).count();
        if (actual != expected) {
          wrong.put(e.getValue() + "/" + m.getId().getTag("kind"), actual);
        }
      }
    }
    assertEquals(Map.of(), wrong);
    for (Collector<Long> c : List.of(strict, conflict, concurrent, reentrant, stale)) {
      c.close();
    }
  }

  /**
   * Gauges (and Prometheus scrapes) read from another thread while runs fail, are interrupted and
   * end: never negative or NaN, committed never goes back, the window gauges go to 0.
   */
  @Test
  void gaugesReadConcurrently_withRunsThatFailAreInterruptedAndEnd() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c = open("g", 400);
    new CollectorMetrics(c).bindTo(prometheus);
    AtomicBoolean stop = new AtomicBoolean();
    List<String> problems = new ArrayList<>();
    Thread reader =
        Thread.startVirtualThread(
            () -> {
              double lastCommitted = 0;
              while (!stop.get()) {
                for (String g :
                    List.of(
                        "collector.fetched",
                        "collector.committed",
                        "collector.in.flight",
                        "collector.waiting",
                        "collector.capacity",
                        "collector.stuck",
                        "collector.oldest.running")) {
                  double v = prometheus.get(g).gauge().value();
                  if (Double.isNaN(v) || v < 0) {
                    problems.add(g + "=" + v);
                  }
                }
                double committed = prometheus.get("collector.committed").gauge().value();
                if (committed < lastCommitted) {
                  problems.add("committed went back " + lastCommitted + " -> " + committed);
                }
                lastCommitted = committed;
                prometheus.scrape();
              }
            });
    // 1: fails at batch 100
    assertThrows(
        BatchFailedException.class,
        () ->
            c.process(
                8,
                b -> {
                  if (b.sequence() == 100) {
                    throw new IOException("x");
                  }
                }));
    // 2: interrupted with handlers blocked
    var blocked = new CountDownLatch(8);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            8,
            b -> {
              if (b.sequence() >= 200) {
                blocked.countDown();
                new CountDownLatch(1).await();
              }
            });
    assertTrue(blocked.await(10, TimeUnit.SECONDS));
    run.owner.interrupt();
    run.awaitFailure(WAIT);
    // 3: completes
    c.process(8, b -> {});
    stop.set(true);
    reader.join();
    assertEquals(List.of(), problems.stream().limit(10).toList());
    for (String g :
        List.of(
            "collector.in.flight",
            "collector.waiting",
            "collector.capacity",
            "collector.stuck",
            "collector.oldest.running")) {
      assertEquals(0, prometheus.get(g).gauge().value(), g + " after the last run");
    }
    assertEquals(400, prometheus.get("collector.committed").gauge().value());
    assertEquals(400, prometheus.get("collector.fetched").gauge().value());
    c.close();
  }

  /** oldest.running is exported in seconds, growing with a held batch. */
  @Test
  void oldestRunning_isInSeconds() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c = open("old", 2);
    new CollectorMetrics(c).bindTo(prometheus);
    Delivery<Long> d = c.next();
    Pattern p = Pattern.compile("collector_oldest_running_seconds\\{collector=\"old\"} (\\S+)");
    await()
        .atMost(WAIT)
        .until(
            () -> {
              Matcher m = p.matcher(prometheus.scrape());
              return m.find() && Double.parseDouble(m.group(1)) >= 0.05;
            });
    Matcher m = p.matcher(prometheus.scrape());
    assertTrue(m.find());
    assertTrue(Double.parseDouble(m.group(1)) < 60, "seconds, not millis or nanos: " + m.group(1));
    d.ack();
    c.close();
  }

  // ---------------------------------------------------------------------------------------
  // Prometheus export and the dashboard
  // ---------------------------------------------------------------------------------------

  private static final List<String> README_NAMES =
      List.of(
          "collector_fetched",
          "collector_committed",
          "collector_in_flight",
          "collector_waiting",
          "collector_capacity",
          "collector_stuck",
          "collector_oldest_running_seconds",
          "collector_batches_fetched_total",
          "collector_batches_acknowledged_total",
          "collector_batches_failed_total",
          "collector_batches_retried_total",
          "collector_batches_dead_lettered_total",
          "collector_records_total",
          "collector_commits_total",
          "collector_misuse_total",
          "collector_handler_duration_seconds_bucket",
          "collector_handler_duration_seconds_sum",
          "collector_handler_duration_seconds_count",
          "collector_handler_duration_seconds_max",
          "collector_fetch_duration_seconds_sum",
          "collector_fetch_duration_seconds_count",
          "collector_fetch_duration_seconds_max",
          "collector_commit_duration_seconds_bucket",
          "collector_commit_duration_seconds_sum",
          "collector_commit_duration_seconds_count",
          "collector_commit_duration_seconds_max",
          "collector_window_full_wait_seconds_sum",
          "collector_window_full_wait_seconds_count",
          "collector_window_full_wait_seconds_max");

  private static Set<String> scrapedNames(String scrape) {
    return scrape
        .lines()
        .filter(l -> !l.startsWith("#") && !l.isBlank())
        .map(l -> l.replaceAll("[{ ].*", ""))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  /**
   * Right after bindTo, before any event: every README name is scraped, nothing else; bucket counts
   * as the README says (73 and 60, plus +Inf); every outcome present.
   */
  @Test
  void prometheusScrape_rightAfterBind_matchesTheReadmeTable() {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c = open("fresh", 1);
    new CollectorMetrics(c).bindTo(prometheus);
    String scrape = prometheus.scrape();
    assertEquals(new TreeSet<>(README_NAMES), scrapedNames(scrape));
    for (String outcome : List.of("success", "failure", "timeout")) {
      assertEquals(
          74,
          scrape
              .lines()
              .filter(
                  l ->
                      l.startsWith("collector_handler_duration_seconds_bucket{")
                          && l.contains("outcome=\"" + outcome + "\""))
              .count(),
          outcome);
    }
    assertEquals(
        61,
        scrape
            .lines()
            .filter(l -> l.startsWith("collector_commit_duration_seconds_bucket{"))
            .count());
    assertTrue(scrape.contains("# TYPE collector_handler_duration_seconds histogram"));
    assertTrue(scrape.contains("# TYPE collector_fetch_duration_seconds summary"));
    c.close();
  }

  /** ADR 5: a MeterFilter switches the histograms off without code changes. */
  @Test
  void adrMeterFilter_switchesHistogramsOff() throws Exception {
    var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    prometheus
        .config()
        .meterFilter(
            new MeterFilter() {
              @Override
              public DistributionStatisticConfig configure(
                  Meter.Id id, DistributionStatisticConfig config) {
                return DistributionStatisticConfig.builder()
                    .percentilesHistogram(false)
                    .build()
                    .merge(config);
              }
            });
    Collector<Long> c = open("nohist", 5);
    new CollectorMetrics(c).bindTo(prometheus);
    c.process(2, b -> {});
    assertFalse(prometheus.scrape().contains("_bucket"));
    c.close();
  }

  /**
   * Every metric name in every dashboard expression (panels and templating) is one the binder
   * exports; every selector of a collector metric filters on $collector; every rate window is
   * $__rate_interval. An independent check from DashboardTest.
   */
  @Test
  void dashboard_everyExpressionUsesOnlyExportedNames() throws Exception {
    JsonNode dashboard =
        new ObjectMapper()
            .readTree(Files.readString(locate("docs/grafana/collector-dashboard.json")));
    List<String> exprs = new ArrayList<>();
    dashboard.findValues("expr").forEach(n -> exprs.add(n.asText()));
    for (JsonNode v : dashboard.path("templating").path("list")) {
      if (v.path("type").asText().equals("query")) {
        exprs.add(
            v.path("query").isTextual()
                ? v.path("query").asText()
                : v.path("query").path("query").asText());
      }
    }
    assertTrue(exprs.size() >= 20, "expressions: " + exprs.size());
    Set<String> exported = new HashSet<>(README_NAMES);
    // The Kafka binder's names (docs/kafka.md); collector-kafka's KafkaDashboardTest checks them
    // against a scrape of that binder on a real broker.
    exported.addAll(
        List.of(
            "collector_kafka_partition_lag",
            "collector_kafka_partition_in_flight",
            "collector_kafka_fenced_total"));
    Set<String> keywords =
        Set.of(
            "rate",
            "sum",
            "by",
            "histogram_quantile",
            "label_values",
            "collector",
            "le",
            "instance",
            "outcome",
            "kind",
            "irate",
            "increase",
            "max",
            "avg",
            "without",
            "on",
            "ignoring",
            "group_left",
            "group_right",
            "topic",
            "partition");
    Pattern ident = Pattern.compile("(?<![\\w$\"])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\\w\"(])");
    Map<String, String> unknown = new TreeMap<>();
    for (String expr : exprs) {
      String stripped = expr.replaceAll("\"[^\"]*\"", "\"\"").replaceAll("\\[[^]]*]", "");
      Matcher m = ident.matcher(stripped);
      while (m.find()) {
        String name = m.group(1);
        if (keywords.contains(name) || name.matches("\\d.*")) {
          continue;
        }
        if (!exported.contains(name)) {
          unknown.put(name, expr);
        }
      }
      Matcher sel = Pattern.compile("(collector_[a-z_]+)(\\{[^}]*})?").matcher(expr);
      while (sel.find()) {
        if (sel.group(2) == null || !sel.group(2).contains("collector=~\"$collector\"")) {
          if (!expr.startsWith("label_values")) {
            unknown.put(sel.group(1) + " without $collector", expr);
          }
        }
      }
      Matcher ranges = Pattern.compile("\\[([^]]*)]").matcher(expr);
      while (ranges.find()) {
        if (!ranges.group(1).equals("$__rate_interval")) {
          unknown.put("range " + ranges.group(1), expr);
        }
      }
    }
    assertEquals(Map.of(), unknown);
  }

  private static Path locate(String relative) {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null) {
      if (Files.exists(dir.resolve(relative))) {
        return dir.resolve(relative);
      }
      dir = dir.getParent();
    }
    throw new AssertionError(relative + " not found");
  }

  // ---------------------------------------------------------------------------------------
  // Leaks
  // ---------------------------------------------------------------------------------------

  /** A binder kept by the user (a bean) does not keep its closed collector alive. */
  @Test
  void keptBinder_doesNotKeepItsClosedCollectorAlive() throws Exception {
    var registry = new SimpleMeterRegistry();
    List<CollectorMetrics> kept = new ArrayList<>();
    List<WeakReference<Collector<Long>>> refs = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Collector<Long> c = open("kept-" + i, 3);
      var binder = new CollectorMetrics(c);
      binder.bindTo(registry);
      c.process(2, b -> {});
      c.close();
      kept.add(binder);
      refs.add(new WeakReference<>(c));
    }
    awaitCollected(refs);
    assertEquals(List.of(), registry.getMeters());
    assertEquals(20, kept.size());
  }
}
