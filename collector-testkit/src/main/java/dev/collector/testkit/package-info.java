/**
 * Test support for Collector users: prove that a handler survives replay, out-of-order
 * completion and faults.
 *
 * <ul>
 *   <li>{@link dev.collector.testkit.FakeSource} and {@link dev.collector.testkit.FeedSource}:
 *       sources with injectable fetch failures and latency, or fed by the test;
 *   <li>{@link dev.collector.testkit.RecordingCheckpointStore}: commit history, invariants,
 *       injected commit failures, slow commits, a crash switch;
 *   <li>{@link dev.collector.testkit.CompletionController}: scripts the completion order;
 *   <li>{@link dev.collector.testkit.CrashHarness} and {@link dev.collector.testkit.Ledger}:
 *       crash, restart, repeat, then assert what happened;
 *   <li>{@link dev.collector.testkit.CollectorLeakCheck}: a JUnit 5 extension for leaked
 *       collector threads.
 * </ul>
 *
 * <p>Dependency shape: the testkit depends on collector-api only and takes the collector
 * factory as a parameter ({@code Collecting::open}). collector-core's own tests use the testkit,
 * so a testkit dependency on collector-core would be a cycle; the testkit's own tests live in
 * collector-core's test suite for the same reason.
 */
@NullMarked
package dev.collector.testkit;

import org.jspecify.annotations.NullMarked;
