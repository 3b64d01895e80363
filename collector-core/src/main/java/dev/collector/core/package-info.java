/** Collector's implementation behind {@link dev.collector.core.Collecting}. */
@NullMarked
package dev.collector.core;

import org.jspecify.annotations.NullMarked;
