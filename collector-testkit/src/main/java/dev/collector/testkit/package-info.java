/**
 * Test support for Collector users: prove that a handler survives replay, out-of-order completion
 * and faults.
 *
 * <ul>
 *   <li>{@link dev.collector.testkit.FakeSource} and {@link dev.collector.testkit.FeedSource}:
 *       sources with injectable fetch failures and latency, or fed by the test;
 *   <li>{@link dev.collector.testkit.RecordingCheckpointStore}: commit history, invariants,
 *       injected commit failures, slow commits, a crash switch;
 *   <li>{@link dev.collector.testkit.CompletionController}: scripts the completion order, also
 *       around your own handler ({@code controller.wrap(handler)});
 *   <li>{@link dev.collector.testkit.CollectorRun}: {@code process()} in the background, with a
 *       timeout on every wait and a close that ends the run before closing the collector;
 *   <li>{@link dev.collector.testkit.CrashHarness} and {@link dev.collector.testkit.Ledger}: crash,
 *       restart, repeat over any source, reproducibly by seed, then assert what happened;
 *   <li>{@link dev.collector.testkit.CollectorLeakCheck}: a JUnit 5 extension that fails the test
 *       that leaked a collector thread.
 * </ul>
 *
 * <p>Dependency shape: the testkit depends on collector-api only and takes the collector factory as
 * a parameter ({@code Collecting::open}, or a lambda). collector-core's own tests use the testkit,
 * so a testkit dependency on collector-core would be a cycle; the testkit's own tests live in
 * collector-core's test suite for the same reason.
 */
@NullMarked
package dev.collector.testkit;

import org.jspecify.annotations.NullMarked;
