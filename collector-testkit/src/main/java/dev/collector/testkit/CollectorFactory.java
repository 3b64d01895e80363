package dev.collector.testkit;

import dev.collector.BatchSource;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;

/**
 * Opens a collector: pass {@code Collecting::open}, or a lambda such as {@code (source, store,
 * options) -> Collecting.open(source, store, options.toBuilder().name("orders").build())}. The
 * testkit takes the factory as a parameter instead of depending on collector-core, so that
 * collector-core's own tests can use the testkit without a dependency cycle.
 *
 * @param <T> the record type
 */
@FunctionalInterface
public interface CollectorFactory<T> {

  /**
   * Opens a collector.
   *
   * @param source the source
   * @param store the checkpoint store
   * @param options the options
   * @return the collector
   */
  Collector<T> open(BatchSource<T> source, CheckpointStore store, CollectorOptions options);
}
