package dev.collector.core;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;
import org.jspecify.annotations.Nullable;

/**
 * Where a collector reports what it does: JFR events (always, near-free when no recording
 * enables them) and an optional listener (the Micrometer binder). Thread-safe; never throws a
 * listener's exception into the run.
 */
final class Telemetry {

  /*
   * Cost on the hot path when nothing listens: a volatile read of `listener` and, per JFR event
   * type, an allocation the JIT scalar-replaces plus an isEnabled() check (the events are
   * disabled by default). Timestamps are System.nanoTime() calls the collector makes anyway
   * where it needs them; the handler timing is two extra nanoTime calls per attempt.
   */

  /** Handler outcome tag values. */
  static final String SUCCESS = "success";
  static final String FAILURE = "failure";
  static final String TIMEOUT = "timeout";

  /** Receives every event; implemented by the Micrometer binder. */
  interface Listener {
    void fetched(int records, long fetchNanos);

    void windowFull(long waitNanos);

    void handled(int records, long nanos, String outcome);

    void acknowledged(int records);

    void retried();

    void deadLettered();

    void committed(long batches, long nanos);

    void misuse(String kind);
  }

  private final String collector;
  private volatile @Nullable Listener listener;
  private volatile boolean listenerFailureLogged;

  Telemetry(String collector) {
    this.collector = collector;
  }

  void listen(Listener listener) {
    this.listener = listener;
  }

  /**
   * A listener threw: telemetry must never change what a run does, so the event is dropped and
   * the first such failure logged. (An Error still propagates: the run fails, saying so.)
   */
  private void listenerFailed(RuntimeException e) {
    if (!listenerFailureLogged) {
      listenerFailureLogged = true;
      RunContext.log(
          System.Logger.Level.WARNING,
          "collector '" + collector + "': a telemetry listener threw; its events are dropped"
              + " (logged once per collector)",
          e);
    }
  }

  void fetched(int records, long fetchNanos) {
    Listener l = listener;
    if (l != null) {
      try {
        l.fetched(records, fetchNanos);
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
  }

  void windowFull(long waitNanos) {
    Listener l = listener;
    if (l != null) {
      try {
        l.windowFull(waitNanos);
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
    WindowFullEvent e = new WindowFullEvent();
    if (e.isEnabled()) {
      e.collector = collector;
      e.waited = waitNanos;
      e.commit();
    }
  }

  void handled(long sequence, int records, long nanos, String outcome) {
    Listener l = listener;
    if (l != null) {
      try {
        l.handled(records, nanos, outcome);
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
    BatchHandledEvent e = new BatchHandledEvent();
    if (e.isEnabled()) {
      e.collector = collector;
      e.sequence = sequence;
      e.records = records;
      e.handlerDuration = nanos;
      e.outcome = outcome;
      e.commit();
    }
  }

  void acknowledged(int records) {
    Listener l = listener;
    if (l != null) {
      try {
        l.acknowledged(records);
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
  }

  void retried() {
    Listener l = listener;
    if (l != null) {
      try {
        l.retried();
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
  }

  void deadLettered() {
    Listener l = listener;
    if (l != null) {
      try {
        l.deadLettered();
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
  }

  void committed(long checkpoint, long batches, long nanos) {
    Listener l = listener;
    if (l != null) {
      try {
        l.committed(batches, nanos);
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
    CommitEvent e = new CommitEvent();
    if (e.isEnabled()) {
      e.collector = collector;
      e.checkpoint = checkpoint;
      e.batches = batches;
      e.commitDuration = nanos;
      e.commit();
    }
  }

  void misuse(String kind) {
    Listener l = listener;
    if (l != null) {
      try {
        l.misuse(kind);
      } catch (RuntimeException e) {
        listenerFailed(e);
      }
    }
  }

  /** JFR: one handler attempt ended. */
  @Name("dev.collector.BatchHandled")
  @Label("Batch Handled")
  @Category("Collector")
  @Description("A handler attempt (or a pull delivery) ended")
  @Enabled(false)
  @StackTrace(false)
  static final class BatchHandledEvent extends Event {
    @Label("Collector") String collector = "";
    @Label("Sequence") long sequence;
    @Label("Records") int records;
    @Label("Handler Duration") @Timespan(Timespan.NANOSECONDS) long handlerDuration;
    @Label("Outcome") String outcome = "";
  }

  /** JFR: a checkpoint became durable. */
  @Name("dev.collector.Commit")
  @Label("Checkpoint Commit")
  @Category("Collector")
  @Enabled(false)
  @StackTrace(false)
  static final class CommitEvent extends Event {
    @Label("Collector") String collector = "";
    @Label("Checkpoint") long checkpoint;
    @Label("Batches Covered") long batches;
    @Label("Commit Duration") @Timespan(Timespan.NANOSECONDS) long commitDuration;
  }

  /** JFR: the fetcher waited for a window slot (head-of-line blocking). */
  @Name("dev.collector.WindowFull")
  @Label("Window Full")
  @Category("Collector")
  @Enabled(false)
  @StackTrace(false)
  static final class WindowFullEvent extends Event {
    @Label("Collector") String collector = "";
    @Label("Waited") @Timespan(Timespan.NANOSECONDS) long waited;
  }
}
