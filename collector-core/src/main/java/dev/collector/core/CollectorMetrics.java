package dev.collector.core;

import dev.collector.Collector;
import dev.collector.Progress;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for one collector, tagged {@code collector=<name>}. Micrometer is optional:
 * only this class needs it, and nothing else loads it.
 *
 * {@snippet :
 * new CollectorMetrics(collector).bindTo(registry);
 * }
 *
 * <p>The meters and their Prometheus names are listed in the README. Binding a collector again
 * (to another registry) replaces the earlier binding's event feed. Thread-safe.
 */
public final class CollectorMetrics implements MeterBinder {

  private final OrderedCollector<?> collector;

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
    this.collector = ordered;
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Tags tags = Tags.of("collector", collector.name());
    gauge(registry, tags, "collector.fetched", "sequence of the next batch to fetch",
        p -> p.fetched());
    gauge(registry, tags, "collector.committed", "sequence of the durable checkpoint",
        p -> p.committed());
    gauge(registry, tags, "collector.in.flight", "batches fetched but not committed",
        p -> p.inFlight());
    gauge(registry, tags, "collector.waiting",
        "batches done but waiting for an earlier one (out-of-order buffer)", p -> p.waiting());
    gauge(registry, tags, "collector.capacity", "window depth of the active run",
        p -> p.capacity());
    gauge(registry, tags, "collector.stuck", "running batches older than the stuck threshold",
        p -> p.stuck());
    TimeGauge.builder("collector.oldest.running", collector,
            TimeUnit.NANOSECONDS, c -> c.progress().oldestRunning().toNanos())
        .tags(tags)
        .description("age of the oldest running batch, from its handler's start")
        .strongReference(true)
        .register(registry);
    collector.telemetry.listen(new Meters(registry, tags));
  }

  private void gauge(MeterRegistry registry, Tags tags, String name, String description,
      ToDoubleFunction<Progress> value) {
    Gauge.builder(name, collector, c -> value.applyAsDouble(c.progress()))
        .tags(tags)
        .description(description)
        .strongReference(true)
        .register(registry);
  }

  /** The event-fed meters. */
  private static final class Meters implements Telemetry.Listener {
    private final MeterRegistry registry;
    private final Tags tags;
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
    private final Map<String, Counter> misuse = new ConcurrentHashMap<>();

    Meters(MeterRegistry registry, Tags tags) {
      this.registry = registry;
      this.tags = tags;
      fetched = counter("collector.batches.fetched", "batches read from the source");
      acknowledged = counter("collector.batches.acknowledged", "batches handled successfully");
      failed = counter("collector.batches.failed", "failed handler attempts, timeouts included");
      retried = counter("collector.batches.retried", "attempts retried by the failure policy");
      deadLettered = counter("collector.batches.dead.lettered",
          "batches handed to the dead-letter handler");
      records = counter("collector.records", "records in acknowledged batches");
      commits = counter("collector.commits", "durable checkpoint commits");
      fetch = timer("collector.fetch.duration", "time to read one batch", Tags.empty());
      commit = timer("collector.commit.duration", "time to make one checkpoint durable",
          Tags.empty());
      windowFull = timer("collector.window.full.wait",
          "time the fetcher waited for a full window to drain (head-of-line blocking)",
          Tags.empty());
      handledSuccess = handlerTimer(Telemetry.SUCCESS);
      handledFailure = handlerTimer(Telemetry.FAILURE);
      handledTimeout = handlerTimer(Telemetry.TIMEOUT);
    }

    private Counter counter(String name, String description) {
      return Counter.builder(name).tags(tags).description(description).register(registry);
    }

    private Timer timer(String name, String description, Tags extra) {
      return Timer.builder(name).tags(tags).tags(extra).description(description)
          .register(registry);
    }

    private Timer handlerTimer(String outcome) {
      return timer("collector.handler.duration",
          "handler attempt (or pull delivery) time by outcome", Tags.of("outcome", outcome));
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
      misuse.computeIfAbsent(kind, k -> Counter.builder("collector.misuse").tags(tags)
          .tag("kind", k).description("API misuses rejected, by exception").register(registry))
          .increment();
    }
  }
}
