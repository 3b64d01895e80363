/**
 * Ordered, bounded read-ahead over a sequenced source with in-order checkpoint commits.
 *
 * <p>A {@link dev.collector.Collector} reads {@link dev.collector.Batch batches} from a {@link
 * dev.collector.BatchSource}, runs them concurrently, and commits a {@link
 * dev.collector.Checkpoint} to a {@link dev.collector.CheckpointStore} strictly in order: the
 * checkpoint only ever covers batches whose every predecessor was acknowledged.
 */
@NullMarked
package dev.collector;

import org.jspecify.annotations.NullMarked;
