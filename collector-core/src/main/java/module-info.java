import org.jspecify.annotations.NullMarked;

/**
 * Collector's implementation. The only exported type is {@link dev.collector.core.Collecting},
 * the entry point; everything else is package-private.
 */
@NullMarked
module dev.collector.core {
  requires transitive dev.collector.api;
  requires static org.jspecify;

  exports dev.collector.core;
}
