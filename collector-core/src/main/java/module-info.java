import org.jspecify.annotations.NullMarked;

/**
 * Collector's implementation. Two public types: {@link dev.collector.core.Collecting}, the entry
 * point, and {@link dev.collector.core.CollectorMetrics}, the optional Micrometer binder;
 * everything else is package-private.
 */
@NullMarked
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"}) // micrometer-core: no module-info
module dev.collector.core {
  requires transitive dev.collector.api;
  requires static org.jspecify;
  requires static com.google.errorprone.annotations;
  requires jdk.jfr;
  // optional at run time: only CollectorMetrics uses it
  requires static transitive micrometer.core;

  exports dev.collector.core;
}
