/** Test support for Collector users. */
@NullMarked
package dev.collector.testkit;

import org.jspecify.annotations.NullMarked;
