package dev.collector.core;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.MisuseException;
import dev.collector.Progress;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for one collector, tagged {@code collector=<name>}. Micrometer is optional:
 * only this class needs it, and nothing else loads it.
 *
 * {@snippet :
 * new CollectorMetrics(collector).bindTo(registry);
 * }
 *
 * <p>The meters and their Prometheus names are listed in the README. The meters live as long as
 * the collector: {@link Collector#close()} removes them from every registry they were bound to,
 * and so does {@link #close()} of this binder. The gauges hold the collector weakly, so a
 * collector that is dropped without being closed is still garbage-collected (its gauges then
 * read NaN until its meters are removed).
 *
 * <p>One collector may be bound to several registries; each gets every event. Binding it to the
 * same registry again changes nothing. Two live collectors with the same {@linkplain
 * CollectorOptions#name() name} cannot be bound to one registry: their meters would share one
 * identity and mix, so the second {@link #bindTo} throws {@link IllegalStateException}. Once
 * the first is closed (or garbage-collected), the name is free again. Thread-safe.
 */
// "exports": MeterBinder and MeterRegistry come from micrometer.core, which this module does not
// require transitively on purpose (Micrometer is optional; ADR 0006). A caller of bindTo has a
// MeterRegistry, so it requires micrometer.core already.
@SuppressWarnings("exports")
public final class CollectorMetrics implements MeterBinder, AutoCloseable {

  /** The misuse kinds, one counter each: the simple names of the MisuseException subclasses. */
  private static final List<String> MISUSE_KINDS =
      Arrays.stream(MisuseException.class.getPermittedSubclasses())
          .map(Class::getSimpleName)
          .toList();

  /** Serializes binding across binders, so two collectors cannot both take one name. */
  private static final ReentrantLock BINDING = new ReentrantLock();

  private final WeakReference<OrderedCollector<?>> collector;
  private final Telemetry telemetry;
  private final String name;
  private final Tags tags;
  /** By registry identity; written under {@link #BINDING}, removed from by listeners. */
  private final Map<MeterRegistry, Binding> bindings = new ConcurrentHashMap<>();
  /** Guarded by {@link #BINDING}. */
  private boolean closed;

  /**
   * Prepares meters for {@code collector}.
   *
   * @param collector a collector opened by {@link Collecting#open}
   * @throws IllegalArgumentException if it was not
   */
  public CollectorMetrics(Collector<?> collector) {
    if (!(collector instanceof OrderedCollector<?> ordered)) {
      throw new IllegalArgumentException(
          "collector must come from Collecting.open, was " + collector.getClass().getName());
    }
    this.collector = new WeakReference<>(ordered);
    this.telemetry = ordered.telemetry;
    this.name = ordered.name();
    this.tags = Tags.of("collector", name);
  }

  /**
   * Registers the collector's meters in {@code registry}. Does nothing if they are registered
   * there already by this binder, or if the collector is closed.
   *
   * @throws IllegalStateException if another live collector with the same name is bound to
   *     {@code registry}, or if this binder is closed
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    BINDING.lock();
    try {
      if (closed) {
        throw new IllegalStateException(
            "the CollectorMetrics of collector '" + name + "' is closed; create a new one");
      }
      OrderedCollector<?> c = collector.get();
      if (c == null || bindings.containsKey(registry)) {
        return;
      }
      claimName(registry);
      Binding binding = new Binding(registry, c);
      if (telemetry.listen(binding)) {
        bindings.put(registry, binding);
      } else {
        binding.remove(); // the collector was closed: it has nothing more to report
      }
    } finally {
      BINDING.unlock();
    }
  }

  /**
   * Removes this binder's meters from every registry it bound them to and stops feeding them.
   * Closing the collector does the same. Idempotent; {@link #bindTo} throws afterwards.
   */
  @Override
  public void close() {
    List<Binding> removed;
    BINDING.lock();
    try {
      closed = true;
      removed = List.copyOf(bindings.values());
      bindings.clear();
    } finally {
      BINDING.unlock();
    }
    for (Binding b : removed) {
      telemetry.unlisten(b);
      b.remove();
    }
  }

  /**
   * Fails if a live collector with this name has meters in {@code registry}; removes the meters
   * of one that was garbage-collected without being closed (its gauges read NaN).
   */
  private void claimName(MeterRegistry registry) {
    Gauge taken = registry.find("collector.capacity").tags(tags).gauge();
    if (taken == null) {
      return;
    }
    if (!Double.isNaN(taken.value())) {
      throw new IllegalStateException(
          "another live collector named '" + name + "' is bound to this registry: their meters"
              + " would share one name and mix. Give each collector its own name"
              + " (CollectorOptions.builder().name(...)), or close the other one first");
    }
    for (Meter m : List.copyOf(registry.getMeters())) {
      if (m.getId().getName().startsWith("collector.")
          && name.equals(m.getId().getTag("collector"))) {
        registry.remove(m);
      }
    }
  }

  /** The meters in one registry, fed by the collector's events. */
  private final class Binding implements Telemetry.Listener {
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();
    private final Counter fetched;
    private final Counter acknowledged;
    private final Counter failed;
    private final Counter retried;
    private final Counter deadLettered;
    private final Counter records;
    private final Counter commits;
    private final Timer fetch;
    private final Timer commit;
    private final Timer windowFull;
    private final Timer handledSuccess;
    private final Timer handledFailure;
    private final Timer handledTimeout;
    private final Map<String, Counter> misuse;

    /** Registers every meter; {@code c} is only handed to the gauges, which hold it weakly. */
    Binding(MeterRegistry registry, OrderedCollector<?> c) {
      this.registry = registry;
      gauge(c, "collector.fetched", "sequence of the next batch to fetch", Progress::fetched);
      gauge(c, "collector.committed", "sequence of the durable checkpoint",
          Progress::committed);
      gauge(c, "collector.in.flight", "batches fetched but not committed", Progress::inFlight);
      gauge(c, "collector.waiting",
          "batches done but waiting for an earlier one (out-of-order buffer)",
          Progress::waiting);
      gauge(c, "collector.capacity", "window depth of the active run", Progress::capacity);
      gauge(c, "collector.stuck", "running batches older than the stuck threshold",
          Progress::stuck);
      meters.add(TimeGauge.builder("collector.oldest.running", c, TimeUnit.NANOSECONDS,
              x -> x.progress().oldestRunning().toNanos())
          .tags(tags)
          .description("age of the oldest running batch, from its handler's start")
          .register(registry));
      fetched = counter("collector.batches.fetched", "batches read from the source");
      acknowledged = counter("collector.batches.acknowledged", "batches handled successfully");
      failed = counter("collector.batches.failed", "failed handler attempts, timeouts included");
      retried = counter("collector.batches.retried", "attempts retried by the failure policy");
      deadLettered = counter("collector.batches.dead.lettered",
          "batches handed to the dead-letter handler");
      records = counter("collector.records", "records in acknowledged batches");
      commits = counter("collector.commits", "durable checkpoint commits");
      fetch = register(timer("collector.fetch.duration", "time to read one batch"));
      commit = register(timer("collector.commit.duration", "time to make one checkpoint durable")
          .publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(1))
          .maximumExpectedValue(Duration.ofSeconds(10)));
      windowFull = register(timer("collector.window.full.wait",
          "time the fetcher waited for a full window to drain (head-of-line blocking)"));
      handledSuccess = handlerTimer(Telemetry.SUCCESS);
      handledFailure = handlerTimer(Telemetry.FAILURE);
      handledTimeout = handlerTimer(Telemetry.TIMEOUT);
      Map<String, Counter> byKind = new HashMap<>();
      for (String kind : MISUSE_KINDS) {
        Counter counter = Counter.builder("collector.misuse").tags(tags).tag("kind", kind)
            .description("API misuses rejected, by exception").register(registry);
        meters.add(counter);
        byKind.put(kind, counter);
      }
      misuse = Map.copyOf(byKind);
    }

    private void gauge(OrderedCollector<?> c, String meter, String description,
        ToDoubleFunction<Progress> value) {
      // the gauge holds c weakly (Micrometer's default); the function must not capture it
      meters.add(Gauge.builder(meter, c, x -> value.applyAsDouble(x.progress()))
          .tags(tags)
          .description(description)
          .register(registry));
    }

    private Counter counter(String meter, String description) {
      Counter counter = Counter.builder(meter).tags(tags).description(description)
          .register(registry);
      meters.add(counter);
      return counter;
    }

    private Timer.Builder timer(String meter, String description) {
      return Timer.builder(meter).tags(tags).description(description);
    }

    private Timer register(Timer.Builder builder) {
      Timer timer = builder.register(registry);
      meters.add(timer);
      return timer;
    }

    /** Buckets from 1 ms to 60 s, the default stuck threshold, for p99 by outcome. */
    private Timer handlerTimer(String outcome) {
      return register(timer("collector.handler.duration",
              "handler attempt (or pull delivery) time by outcome")
          .tag("outcome", outcome)
          .publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(1))
          .maximumExpectedValue(Duration.ofSeconds(60)));
    }

    /** Removes every meter of this binding from its registry. Idempotent. */
    void remove() {
      for (Meter m : meters) {
        registry.remove(m);
      }
    }

    @Override
    public void closed() {
      bindings.remove(registry, this);
      remove();
    }

    @Override
    public void fetched(int recordCount, long fetchNanos) {
      fetched.increment();
      fetch.record(fetchNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void windowFull(long waitNanos) {
      windowFull.record(waitNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void handled(int recordCount, long nanos, String outcome) {
      switch (outcome) {
        case Telemetry.SUCCESS -> handledSuccess.record(nanos, TimeUnit.NANOSECONDS);
        case Telemetry.CANCELLED -> {} // interrupted by its own run's cancellation: no failure
        case Telemetry.TIMEOUT -> {
          handledTimeout.record(nanos, TimeUnit.NANOSECONDS);
          failed.increment();
        }
        default -> {
          handledFailure.record(nanos, TimeUnit.NANOSECONDS);
          failed.increment();
        }
      }
    }

    @Override
    public void acknowledged(int recordCount) {
      acknowledged.increment();
      records.increment(recordCount);
    }

    @Override
    public void retried() {
      retried.increment();
    }

    @Override
    public void deadLettered() {
      deadLettered.increment();
    }

    @Override
    public void committed(long batches, long nanos) {
      commits.increment();
      commit.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void misuse(String kind) {
      Counter counter = misuse.get(kind);
      if (counter != null) { // always: every MisuseException subclass has its counter
        counter.increment();
      }
    }
  }
}
