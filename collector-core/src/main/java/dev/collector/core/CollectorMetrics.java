package dev.collector.core;

import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.MisuseException;
import dev.collector.Progress;
import dev.collector.Registration;
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
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * Micrometer meters for one collector, tagged {@code collector=<name>}. Micrometer is optional:
 * only this class needs it, and nothing else loads it.
 *
 * {@snippet class=dev.collector.core.JavadocExamplesTest region=collectorMetrics}
 *
 * <p>Built on the public {@link CollectorListener} SPI alone: any {@link Collector} works, and a
 * listener of your own gets the same events.
 *
 * <p>The meters and their Prometheus names are listed in the README. The meters live as long as the
 * collector: {@link Collector#close()} removes them from every registry they were bound to, and so
 * does {@link #close()} of this binder. The gauges hold the collector weakly, so a collector that
 * is dropped without being closed is still garbage-collected (its gauges then read NaN until its
 * meters are removed).
 *
 * <p>One collector may be bound to several registries; each gets every event. Binding it to the
 * same registry again changes nothing, also through another binder of the same collector. Two live
 * collectors with the same {@linkplain CollectorOptions#name() name} cannot be bound to one
 * registry: their meters would share one identity and mix, so the second {@link #bindTo} throws
 * {@link IllegalStateException}. The check reads which collector bound the name, never the
 * registry's meters, so a MeterFilter that denies or renames meters does not change it. Once the
 * first is closed and its meters are removed (or it is garbage-collected), the name is free again;
 * a {@code bindTo} racing that {@code close()} is refused, never left without meters. Only the
 * meters a binder registered are ever removed, each once: a binder closed late never removes the
 * meters of a newer collector with that name. If a registration throws half-way, the meters
 * registered so far are removed again. Thread-safe.
 */
// "exports": MeterBinder and MeterRegistry come from micrometer.core, which this module does not
// require transitively on purpose (Micrometer is optional; ADR 0006). A caller of bindTo has a
// MeterRegistry, so it requires micrometer.core already.
@SuppressWarnings("exports")
public final class CollectorMetrics implements MeterBinder, AutoCloseable {

  /** The misuse kinds, one counter each, tagged with the simple names of the classes. */
  private static final List<Class<?>> MISUSE_KINDS =
      Arrays.asList(MisuseException.class.getPermittedSubclasses());

  /**
   * Guards {@link #CLAIMS} and every {@link Claim#released}: serializes binding across binders, so
   * two collectors cannot both take one name. Never held while meters are removed.
   */
  private static final ReentrantLock BINDING = new ReentrantLock();

  /**
   * Which collector name is taken in which registry, and by which meters: the one-live-collector-
   * per-name check reads this, never the registry (whose meters a MeterFilter may deny or rename).
   * Keyed weakly by registry (MeterRegistry does not override equals, so by identity); a claim
   * holds no reference to its registry, so a dropped registry is still collected. Guarded by {@link
   * #BINDING}.
   */
  private static final Map<MeterRegistry, Map<String, Claim>> CLAIMS = new WeakHashMap<>();

  private final WeakReference<Collector<?>> collector;
  private final String name;
  private final Tags tags;

  /** By registry identity; written under {@link #BINDING}, removed from by listeners. */
  private final Map<MeterRegistry, Binding> bindings = new ConcurrentHashMap<>();

  /** Guarded by {@link #BINDING}. */
  private boolean closed;

  /**
   * Prepares meters for {@code collector}.
   *
   * @param collector the collector, e.g. one opened by {@link Collecting#open}
   */
  public CollectorMetrics(Collector<?> collector) {
    this.collector = new WeakReference<>(collector);
    this.name = collector.name();
    this.tags = Tags.of("collector", name);
  }

  /**
   * Registers the collector's meters in {@code registry}. Does nothing if the collector's meters
   * are registered there already (by this binder or another one of the same collector), or if the
   * collector is closed. If registering a meter throws, the meters registered so far are removed
   * again and the name stays free.
   *
   * @throws IllegalStateException if another collector with the same name is bound to {@code
   *     registry} and is neither closed nor garbage-collected, or its meters are still being
   *     removed; or if this binder is closed
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    @Nullable Binding unused = null;
    BINDING.lock();
    try {
      if (closed) {
        throw new IllegalStateException(
            "the CollectorMetrics of collector '" + name + "' is closed; create a new one");
      }
      Collector<?> c = collector.get();
      if (c == null || bindings.containsKey(registry)) {
        return;
      }
      Map<String, Claim> claims = CLAIMS.computeIfAbsent(registry, r -> new HashMap<>());
      @Nullable Claim held = claims.get(name);
      if (held != null) {
        @Nullable Collector<?> owner = held.owner.get();
        if (owner == c) {
          return; // bound there already, by another binder: changes nothing
        }
        if (owner != null || held.released) {
          throw new IllegalStateException(
              "another collector named '"
                  + name
                  + "' is bound to this registry"
                  + (held.released ? " and its meters are still being removed" : "")
                  + ": their meters would share one name and mix. Give each collector its own"
                  + " name (CollectorOptions.builder().name(...)), or close the other one first");
        }
      }
      Binding binding;
      try {
        if (held != null) {
          // garbage-collected without being closed (its gauges read NaN): remove exactly its
          // meters, here, before ours of the same ids are registered
          held.released = true;
          claims.remove(name);
          held.removeFrom(registry);
        }
        binding = new Binding(registry, c);
      } finally {
        if (claims.isEmpty()) {
          CLAIMS.remove(registry);
        }
      }
      CLAIMS.computeIfAbsent(registry, r -> new HashMap<>()).put(name, binding.claim);
      try {
        binding.registration = c.listen(binding); // its events start after this returns
        bindings.put(registry, binding);
      } catch (CollectorClosedException closedMeanwhile) {
        unused = binding; // the collector was closed: it has nothing more to report
      }
    } finally {
      BINDING.unlock();
    }
    if (unused != null) {
      unused.release();
    }
  }

  /**
   * Removes this binder's meters from every registry it bound them to and stops feeding them.
   * Closing the collector does the same. Idempotent; {@link #bindTo} throws afterwards.
   *
   * @throws RuntimeException the first exception a registry threw while removing a meter (a
   *     meter-removed listener), after every other meter was removed
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
    @Nullable RuntimeException failure = null;
    for (Binding b : removed) { // every registry, also when removing from one of them throws
      Registration registration = b.registration;
      if (registration != null) {
        registration.close();
      }
      try {
        b.release();
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
   * The meters one binding registered in one registry, and the collector they belong to. Holds
   * neither the registry nor the collector strongly.
   */
  private static final class Claim {
    final WeakReference<Collector<?>> owner;

    /** Exactly the meters the binding registered; complete before the claim is published. */
    final List<Meter> meters = new ArrayList<>();

    /**
     * Set (under {@link #BINDING}) by whoever removes the meters, exactly once: a meter is removed
     * by id, so removing it again could remove a later collector's meter of that id.
     */
    boolean released;

    Claim(Collector<?> owner) {
      this.owner = new WeakReference<>(owner);
    }

    /** Removes every meter, also when one removal throws (the first failure is rethrown). */
    void removeFrom(MeterRegistry registry) {
      @Nullable RuntimeException failure = null;
      for (Meter m : meters) {
        try {
          registry.remove(m);
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
  }

  /** The meters in one registry, fed by the collector's events. */
  private final class Binding implements CollectorListener {
    private final MeterRegistry registry;

    /** Set under {@link #BINDING} once the collector accepted this listener. */
    @Nullable Registration registration;

    private final Claim claim;
    private final List<Meter> meters;

    /** The pre-filter id of the meter being registered, while it is. */
    private Meter.@Nullable Id pending;

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
    private final Map<Class<?>, Counter> misuse;

    /**
     * Registers every meter; {@code c} is only handed to the gauges, which hold it weakly. If a
     * registration throws (a registry or meter listener refusing it), removes the meters registered
     * so far, and the one that threw if the registry added it, then rethrows.
     */
    Binding(MeterRegistry registry, Collector<?> c) {
      this.registry = registry;
      this.claim = new Claim(c);
      this.meters = claim.meters;
      Set<Meter> before = Collections.newSetFromMap(new IdentityHashMap<>());
      before.addAll(registry.getMeters());
      try {
        gauge(c, "collector.fetched", "sequence of the next batch to fetch", Progress::fetched);
        gauge(c, "collector.committed", "sequence of the durable checkpoint", Progress::committed);
        gauge(c, "collector.in.flight", "batches fetched but not committed", Progress::inFlight);
        gauge(
            c,
            "collector.waiting",
            "batches done but waiting for an earlier one (out-of-order buffer)",
            Progress::waiting);
        gauge(c, "collector.capacity", "window depth of the active run", Progress::capacity);
        gauge(
            c,
            "collector.stuck",
            "running batches older than the stuck threshold",
            Progress::stuck);
        add(
            "collector.oldest.running",
            tags,
            Meter.Type.GAUGE,
            () ->
                TimeGauge.builder(
                        "collector.oldest.running",
                        c,
                        TimeUnit.NANOSECONDS,
                        x -> x.progress().oldestRunning().toNanos())
                    .tags(tags)
                    .description("age of the oldest running batch, from its handler's start")
                    .register(registry));
        fetched = counter("collector.batches.fetched", "batches read from the source");
        acknowledged = counter("collector.batches.acknowledged", "batches handled successfully");
        failed = counter("collector.batches.failed", "failed handler attempts, timeouts included");
        retried = counter("collector.batches.retried", "attempts retried by the failure policy");
        deadLettered =
            counter("collector.batches.dead.lettered", "batches handed to the dead-letter handler");
        records = counter("collector.records", "records in acknowledged batches");
        commits = counter("collector.commits", "durable checkpoint commits");
        fetch = timer("collector.fetch.duration", "time to read one batch", b -> b);
        commit =
            timer(
                "collector.commit.duration",
                "time to make one checkpoint durable",
                b ->
                    b.publishPercentileHistogram()
                        .minimumExpectedValue(Duration.ofMillis(1))
                        .maximumExpectedValue(Duration.ofSeconds(10)));
        windowFull =
            timer(
                "collector.window.full.wait",
                "time the fetcher waited for a full window to drain (head-of-line blocking)",
                b -> b);
        handledSuccess = handlerTimer("success");
        handledFailure = handlerTimer("failure");
        handledTimeout = handlerTimer("timeout");
        Map<Class<?>, Counter> byKind = new HashMap<>();
        for (Class<?> kind : MISUSE_KINDS) {
          Tags kindTags = tags.and("kind", kind.getSimpleName());
          byKind.put(
              kind,
              add(
                  "collector.misuse",
                  kindTags,
                  Meter.Type.COUNTER,
                  () ->
                      Counter.builder("collector.misuse")
                          .tags(kindTags)
                          .description("API misuses rejected, by exception")
                          .register(registry)));
        }
        misuse = Map.copyOf(byKind);
      } catch (RuntimeException | Error e) {
        try {
          claim.removeFrom(registry);
          removePending(before);
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
    }

    /** Registers one meter and keeps it; {@code tags} are all of its tags, before any filter. */
    private <M extends Meter> M add(
        String meter, Tags allTags, Meter.Type type, Supplier<M> register) {
      pending = new Meter.Id(meter, allTags, null, null, type);
      M registered = register.get();
      meters.add(registered);
      pending = null;
      return registered;
    }

    /**
     * A registration threw. Micrometer may have added that meter before a meter-added listener
     * threw: remove it by its pre-filter id, but only if a meter we had not seen appeared (so a
     * meter of that id that was there before, e.g. one of another type, is left alone).
     */
    private void removePending(Set<Meter> before) {
      Meter.Id id = pending;
      if (id == null) {
        return;
      }
      for (Meter m : registry.getMeters()) {
        if (!before.contains(m) && !meters.contains(m)) {
          registry.removeByPreFilterId(id);
          return;
        }
      }
    }

    private void gauge(
        Collector<?> c, String meter, String description, ToDoubleFunction<Progress> value) {
      // the gauge holds c weakly (Micrometer's default); the function must not capture it
      add(
          meter,
          tags,
          Meter.Type.GAUGE,
          () ->
              Gauge.builder(meter, c, x -> value.applyAsDouble(x.progress()))
                  .tags(tags)
                  .description(description)
                  .register(registry));
    }

    private Counter counter(String meter, String description) {
      return add(
          meter,
          tags,
          Meter.Type.COUNTER,
          () -> Counter.builder(meter).tags(tags).description(description).register(registry));
    }

    private Timer timer(String meter, String description, UnaryOperator<Timer.Builder> options) {
      return timer(meter, tags, description, options);
    }

    private Timer timer(
        String meter, Tags allTags, String description, UnaryOperator<Timer.Builder> options) {
      return add(
          meter,
          allTags,
          Meter.Type.TIMER,
          () ->
              options
                  .apply(Timer.builder(meter).tags(allTags).description(description))
                  .register(registry));
    }

    /** Buckets from 1 ms to 60 s, the default stuck threshold, for p99 by outcome. */
    private Timer handlerTimer(String outcome) {
      return timer(
          "collector.handler.duration",
          tags.and("outcome", outcome),
          "handler attempt (or pull delivery) time by outcome",
          b ->
              b.publishPercentileHistogram()
                  .minimumExpectedValue(Duration.ofMillis(1))
                  .maximumExpectedValue(Duration.ofSeconds(60)));
    }

    /**
     * Removes this binding's meters, once, whoever asks first (the collector's close, the binder's
     * close, a bindTo over a garbage-collected collector). The name stays taken until they are all
     * removed, so a new collector of that name cannot register meters of the same ids meanwhile (it
     * is refused instead); the removal itself runs outside {@link #BINDING}.
     */
    void release() {
      BINDING.lock();
      try {
        if (claim.released) {
          return;
        }
        claim.released = true;
      } finally {
        BINDING.unlock();
      }
      try {
        claim.removeFrom(registry);
      } finally {
        BINDING.lock();
        try {
          Map<String, Claim> claims = CLAIMS.get(registry);
          if (claims != null && claims.remove(name, claim) && claims.isEmpty()) {
            CLAIMS.remove(registry);
          }
        } finally {
          BINDING.unlock();
        }
      }
    }

    @Override
    public void closed() {
      bindings.remove(registry, this);
      release();
    }

    @Override
    public void fetched(long sequence, int recordCount, long fetchNanos) {
      fetched.increment();
      fetch.record(fetchNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void windowFull(long waitNanos) {
      windowFull.record(waitNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void handled(long sequence, int recordCount, long nanos, Outcome outcome) {
      switch (outcome) {
        case SUCCESS -> handledSuccess.record(nanos, TimeUnit.NANOSECONDS);
        case CANCELLED -> {} // interrupted by its own run's cancellation: no failure
        case TIMEOUT -> {
          handledTimeout.record(nanos, TimeUnit.NANOSECONDS);
          failed.increment();
        }
        case FAILURE -> {
          handledFailure.record(nanos, TimeUnit.NANOSECONDS);
          failed.increment();
        }
      }
    }

    @Override
    public void acknowledged(long sequence, int recordCount) {
      acknowledged.increment();
      records.increment(recordCount);
    }

    @Override
    public void retried(long sequence) {
      retried.increment();
    }

    @Override
    public void deadLettered(long sequence) {
      deadLettered.increment();
    }

    @Override
    public void committed(long checkpoint, long batches, long nanos) {
      commits.increment();
      commit.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void misuse(Class<? extends MisuseException> kind, long sequence) {
      Counter counter = misuse.get(kind);
      if (counter != null) { // always: every MisuseException subclass has its counter
        counter.increment();
      }
    }
  }
}
