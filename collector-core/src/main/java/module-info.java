import org.jspecify.annotations.NullMarked;

/**
 * Collector's implementation. Two public types: {@link dev.collector.core.Collecting}, the entry
 * point, and {@link dev.collector.core.CollectorMetrics}, the optional Micrometer binder;
 * everything else is package-private.
 */
@NullMarked
@SuppressWarnings("requires-automatic") // micrometer-core: no module-info
module dev.collector.core {
  requires transitive dev.collector.api;
  requires static org.jspecify;
  requires static com.google.errorprone.annotations;
  requires jdk.jfr;
  // Optional at compile and run time: only CollectorMetrics uses it. Not transitive: a modular
  // user project that requires dev.collector.core must compile without Micrometer (see
  // ModularUserProjectTest in collector-examples). Code that uses CollectorMetrics requires
  // micrometer.core itself, as it does anyway to have a MeterRegistry (ADR 0006).
  requires static micrometer.core;

  exports dev.collector.core;
}
