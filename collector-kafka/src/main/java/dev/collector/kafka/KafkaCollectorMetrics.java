package dev.collector.kafka;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.lang.System.Logger.Level;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import org.apache.kafka.common.TopicPartition;
import org.jspecify.annotations.Nullable;

/**
 * Micrometer meters for one {@link KafkaCollector}: per-partition lag and in-flight gauges, and the
 * collector-level meters of {@code dev.collector.core.CollectorMetrics} whose meaning carries over,
 * under the same names, so the dashboard's panels show Kafka collectors too. Micrometer is
 * optional: only this class needs it.
 *
 * {@snippet :
 * try (var metrics = KafkaCollectorMetrics.bind(collector, registry)) {
 *   collector.process(64, handler);
 * }
 * }
 *
 * <p><b>Meters</b>, all tagged {@code collector=<name>}:
 *
 * <ul>
 *   <li>{@code collector.kafka.partition.lag} (gauge, tags {@code topic}, {@code partition}): the
 *       partition's end offset minus the group's committed offset (refreshed every 200 ms);
 *   <li>{@code collector.kafka.partition.in.flight} (gauge, tags {@code topic}, {@code partition}):
 *       units (batches, or records in record mode) dispatched and not committed;
 *   <li>{@code collector.capacity}, {@code collector.in.flight}, {@code collector.waiting}
 *       (gauges), {@code collector.batches.acknowledged}, {@code collector.records}, {@code
 *       collector.batches.dead.lettered}, {@code collector.commits} (counters), as in core; units
 *       are records in record mode, and {@code collector.records} counts the records of
 *       dead-lettered batches too;
 *   <li>{@code collector.kafka.fenced} (counter): completions of a revoked or lost partition's
 *       epoch, ignored.
 * </ul>
 *
 * <p><b>Life cycle.</b> A partition's gauges are registered when it is assigned to the collector
 * and removed when it is revoked or lost (after its fence), when the run ends, and when the binder
 * or the collector is closed; a partition assigned again gets them again. A scrape never shows the
 * gauges of a partition that left (a scrape racing the rebalance callback itself may see them once
 * more, reading NaN). The collector-level meters live until {@link #close()} or {@link
 * KafkaCollector#close()}. The meters hold the collector weakly: a registry never keeps it alive.
 *
 * <p><b>Races and misuse.</b> Binding the same collector to the same registry again returns a
 * binder that registers nothing (its {@code close()} removes nothing). Binding a closed collector
 * registers nothing; a {@code bind} racing {@link KafkaCollector#close()} either registers nothing
 * or registers its meters and has them removed by that close before the close returns. Binding
 * another live collector of the same name to the registry, or one whose name a non-Kafka collector
 * already uses there, throws {@link IllegalStateException}: their meters would share one identity
 * and mix. {@code close()} racing a rebalance: partition events and {@code close()} are serialized
 * by one lock per binder, and events after {@code close()} register nothing, so no partition gauge
 * survives the close. A registry that throws while {@link #bind} registers a collector-level meter:
 * what was registered is removed again and the exception is rethrown. One that throws while a
 * partition's gauges are registered or removed (inside the rebalance callback, on the poll thread):
 * logged at WARNING, that partition has no gauges, consumption goes on. Thread-safe.
 */
public final class KafkaCollectorMetrics implements AutoCloseable {

  /*
   * Invariant: every meter this binder registered is in `collectorMeters` or `partitionMeters`
   * until it is removed, and it is removed once. Partition events and close() hold `lock`, so a
   * partition's gauges follow the order of the rebalance callbacks, and nothing is registered
   * after close(). The registry is called under `lock` (registration is short and never calls
   * back into the collector); the gauges' functions read progress() without it.
   *
   * One live binding per collector name per registry: CLAIMS (weak keys, like core's binder)
   * records which binder holds a name; a claim whose collector was garbage-collected is taken
   * over after its meters are removed.
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());
  private static final String LAG = "collector.kafka.partition.lag";
  private static final String IN_FLIGHT = "collector.kafka.partition.in.flight";
  private static final ReentrantLock BINDING = new ReentrantLock();

  /** Guarded by {@link #BINDING}. */
  private static final Map<MeterRegistry, Map<String, KafkaCollectorMetrics>> CLAIMS =
      new WeakHashMap<>();

  private final WeakReference<KafkaCollector<?, ?>> collector;

  /** Weak: CLAIMS holds binders in a map keyed weakly by registry. */
  private final @Nullable WeakReference<MeterRegistry> registry;

  private final String name;
  private final Tags tags;
  private final @Nullable Listener listener;
  private final ReentrantLock lock = new ReentrantLock();

  /** Guarded by {@link #lock}. */
  private final List<Meter> collectorMeters = new ArrayList<>();

  /** Guarded by {@link #lock}. */
  private final Map<TopicPartition, List<Meter>> partitionMeters = new LinkedHashMap<>();

  /** Guarded by {@link #lock}. */
  private boolean closed;

  private KafkaCollectorMetrics(KafkaCollector<?, ?> collector, @Nullable MeterRegistry registry) {
    this.collector = new WeakReference<>(collector);
    this.registry = registry == null ? null : new WeakReference<>(registry);
    this.name = collector.name();
    this.tags = Tags.of("collector", name);
    this.listener = registry == null ? null : new Listener();
    this.closed = registry == null;
  }

  /**
   * Registers the collector's meters in {@code registry}, and from now on a partition's gauges
   * whenever it is assigned.
   *
   * @param collector the collector
   * @param registry where the meters go
   * @return the binding; {@link #close()} removes its meters. It registered nothing if the
   *     collector was closed or is bound to {@code registry} already.
   * @throws IllegalStateException if another live collector with the same name is bound to {@code
   *     registry}, or a collector of another kind uses that name there
   * @throws RuntimeException what the registry threw while registering; nothing stays registered
   */
  public static KafkaCollectorMetrics bind(KafkaCollector<?, ?> collector, MeterRegistry registry) {
    Objects.requireNonNull(collector, "collector");
    Objects.requireNonNull(registry, "registry");
    String name = collector.name();
    KafkaCollectorMetrics binder;
    @Nullable KafkaCollectorMetrics collected = null;
    BINDING.lock();
    try {
      Map<String, KafkaCollectorMetrics> claims =
          CLAIMS.computeIfAbsent(registry, r -> new HashMap<>());
      KafkaCollectorMetrics held = claims.get(name);
      if (held != null) {
        KafkaCollector<?, ?> owner = held.collector.get();
        if (held.isClosing()) {
          throw new IllegalStateException(
              "the meters of collector '"
                  + name
                  + "' are being"
                  + " removed from this registry (a close() is running); bind after it returned");
        }
        if (owner == collector) {
          return new KafkaCollectorMetrics(collector, null); // bound there already
        }
        if (owner != null) {
          throw new IllegalStateException(
              "another Kafka collector named '"
                  + name
                  + "' is bound"
                  + " to this registry: their meters would share one name and mix. Give each its own"
                  + " name (KafkaCollectorOptions.builder().name(...)), or close the other first");
        }
        claims.remove(name); // garbage-collected without close(): take its name over
        collected = held;
      } else if (registry.find("collector.capacity").tags("collector", name).meter() != null) {
        throw new IllegalStateException(
            "a collector named '"
                + name
                + "' (not this Kafka"
                + " collector) already has meters in this registry; give this one another name");
      }
      binder = new KafkaCollectorMetrics(collector, registry);
      claims.put(name, binder);
    } finally {
      BINDING.unlock();
    }
    if (collected != null) {
      collected.close();
    }
    if (!collector.telemetry.listen(Objects.requireNonNull(binder.listener))) {
      binder.close(); // the collector is closed: nothing to report, nothing registered
      return binder;
    }
    try {
      binder.registerCollectorMeters(collector);
      binder.registerAssigned(collector);
    } catch (RuntimeException | Error e) {
      try {
        binder.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return binder;
  }

  private boolean isClosing() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  /** The registry, or {@code null} if it was garbage-collected (nothing to register or remove). */
  private @Nullable MeterRegistry registry() {
    return registry == null ? null : registry.get();
  }

  private void registerCollectorMeters(KafkaCollector<?, ?> c) {
    lock.lock();
    try {
      if (closed) {
        return; // the collector's close() ran between listen() and here: nothing to register
      }
      gauge(
          c, "collector.capacity", "window depth of the active run", x -> x.progress().capacity());
      gauge(
          c,
          "collector.in.flight",
          "units fetched but not committed, over all partitions",
          x -> x.progress().uncommitted());
      gauge(
          c,
          "collector.waiting",
          "units handled but waiting for an earlier one of their partition",
          x -> x.progress().partitions().stream().mapToInt(PartitionProgress::waiting).sum());
      counter(
          c,
          "collector.batches.acknowledged",
          "units handled successfully",
          x -> x.counts().acknowledged());
      counter(
          c,
          "collector.records",
          "records in handled units, dead-lettered ones included",
          x -> x.counts().records());
      counter(
          c,
          "collector.batches.dead.lettered",
          "units handed to the dead-letter handler",
          x -> x.counts().deadLettered());
      counter(
          c, "collector.commits", "offset commits the group confirmed", x -> x.telemetry.commits());
      counter(
          c,
          "collector.kafka.fenced",
          "completions of a revoked or lost partition's epoch, ignored",
          x -> x.counts().fenced());
    } finally {
      lock.unlock();
    }
  }

  private void gauge(
      KafkaCollector<?, ?> c,
      String meter,
      String description,
      ToDoubleFunction<KafkaCollector<?, ?>> value) {
    MeterRegistry r = Objects.requireNonNull(registry());
    collectorMeters.add(
        register(
            r,
            meter,
            tags,
            Meter.Type.GAUGE,
            () ->
                Gauge.builder(meter, c, value)
                    .tags(tags)
                    .description(description)
                    .register(r))); // holds c weakly; `value` captures nothing
  }

  private void counter(
      KafkaCollector<?, ?> c,
      String meter,
      String description,
      ToLongFunction<KafkaCollector<?, ?>> value) {
    MeterRegistry r = Objects.requireNonNull(registry());
    collectorMeters.add(
        register(
            r,
            meter,
            tags,
            Meter.Type.COUNTER,
            () ->
                FunctionCounter.builder(meter, c, x -> value.applyAsLong(x))
                    .tags(tags)
                    .description(description)
                    .register(r)));
  }

  /**
   * Registers one meter. If the registry throws (a meter-added listener refusing it), Micrometer
   * may have added the meter already: it is removed by its pre-filter id before the rethrow. Only
   * this binding uses ids with its collector's name in this registry (see {@link #bind}).
   */
  private static <M extends Meter> M register(
      MeterRegistry r, String meter, Tags allTags, Meter.Type type, Supplier<M> registration) {
    try {
      return registration.get();
    } catch (RuntimeException | Error e) {
      try {
        r.removeByPreFilterId(new Meter.Id(meter, allTags, null, null, type));
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** The partitions assigned before the binder listened; later ones come as events. */
  private void registerAssigned(KafkaCollector<?, ?> c) {
    lock.lock();
    try {
      // read under the lock, after listen(): a partition fenced before this read is not in it,
      // one fenced after it gets its removed event after this registration
      List<TopicPartition> now = new ArrayList<>();
      for (PartitionProgress p : c.progress().partitions()) {
        now.add(new TopicPartition(p.topic(), p.partition()));
      }
      assigned(now);
    } finally {
      lock.unlock();
    }
  }

  /** Caller holds {@link #lock}. */
  private void assigned(Collection<TopicPartition> partitions) {
    KafkaCollector<?, ?> c = collector.get();
    MeterRegistry r = registry();
    if (closed || c == null || r == null) {
      return;
    }
    for (TopicPartition tp : partitions) {
      if (partitionMeters.containsKey(tp)) {
        continue;
      }
      Tags t = tags.and("topic", tp.topic(), "partition", Integer.toString(tp.partition()));
      List<Meter> meters = new ArrayList<>(2);
      try {
        meters.add(
            register(
                r,
                LAG,
                t,
                Meter.Type.GAUGE,
                () ->
                    Gauge.builder(LAG, c, x -> lag(x, tp))
                        .tags(t)
                        .description("end offset minus the group's committed offset")
                        .register(r)));
        meters.add(
            register(
                r,
                IN_FLIGHT,
                t,
                Meter.Type.GAUGE,
                () ->
                    Gauge.builder(IN_FLIGHT, c, x -> inFlight(x, tp))
                        .tags(t)
                        .description("units dispatched and not committed")
                        .register(r)));
        partitionMeters.put(tp, meters);
      } catch (RuntimeException e) {
        LOG.log(
            Level.WARNING,
            "{0}: registering the gauges of {1} failed, it has none: {2}",
            name,
            tp,
            e.toString());
        remove(r, meters);
      }
    }
  }

  /** Caller holds {@link #lock}. */
  private void removed(@Nullable Collection<TopicPartition> partitions) {
    MeterRegistry r = registry();
    if (r == null) {
      partitionMeters.clear();
      return;
    }
    List<TopicPartition> gone =
        new ArrayList<>(partitions == null ? partitionMeters.keySet() : partitions);
    for (TopicPartition tp : gone) {
      List<Meter> meters = partitionMeters.remove(tp);
      if (meters != null) {
        try {
          remove(r, meters);
        } catch (RuntimeException e) {
          LOG.log(
              Level.WARNING, "{0}: removing the gauges of {1} failed: {2}", name, tp, e.toString());
        }
      }
    }
  }

  private static double lag(KafkaCollector<?, ?> c, TopicPartition tp) {
    PartitionProgress p = find(c, tp);
    return p == null || p.lag() < 0 ? Double.NaN : p.lag();
  }

  private static double inFlight(KafkaCollector<?, ?> c, TopicPartition tp) {
    PartitionProgress p = find(c, tp);
    return p == null ? Double.NaN : p.inFlight();
  }

  private static @Nullable PartitionProgress find(KafkaCollector<?, ?> c, TopicPartition tp) {
    for (PartitionProgress p : c.progress().partitions()) {
      if (p.partition() == tp.partition() && p.topic().equals(tp.topic())) {
        return p;
      }
    }
    return null;
  }

  /** Removes every meter, also when one removal throws; rethrows the first failure. */
  private static void remove(MeterRegistry r, List<Meter> meters) {
    @Nullable RuntimeException failure = null;
    for (Meter m : meters) {
      try {
        r.remove(m);
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Removes this binding's meters and stops following the collector's partitions; the collector
   * runs on. Closing the collector does the same. Idempotent.
   *
   * @throws RuntimeException the first exception the registry threw while removing a meter, after
   *     every other meter was removed
   */
  @Override
  public void close() {
    List<Meter> all = new ArrayList<>();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      all.addAll(collectorMeters);
      partitionMeters.values().forEach(all::addAll);
      collectorMeters.clear();
      partitionMeters.clear();
    } finally {
      lock.unlock();
    }
    KafkaCollector<?, ?> c = collector.get();
    if (c != null && listener != null) {
      c.telemetry.unlisten(listener);
    }
    MeterRegistry r = registry();
    if (r == null) {
      return; // the registry is gone, and its claims with it
    }
    try {
      remove(r, all);
    } finally {
      BINDING.lock();
      try {
        Map<String, KafkaCollectorMetrics> claims = CLAIMS.get(r);
        if (claims != null && claims.remove(name, this) && claims.isEmpty()) {
          CLAIMS.remove(r);
        }
      } finally {
        BINDING.unlock();
      }
    }
  }

  /** The collector's events, applied under the binder's lock. */
  private final class Listener implements KafkaTelemetry.Listener {
    @Override
    public void assigned(Collection<TopicPartition> partitions) {
      lock.lock();
      try {
        KafkaCollectorMetrics.this.assigned(partitions);
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void removed(Collection<TopicPartition> partitions) {
      lock.lock();
      try {
        if (!closed) {
          KafkaCollectorMetrics.this.removed(partitions);
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void runEnded() {
      lock.lock();
      try {
        if (!closed) {
          KafkaCollectorMetrics.this.removed(null);
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void closed() {
      try {
        close();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "{0}: removing the meters on close failed: {1}", name, e.toString());
      }
    }
  }
}
