package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.EventType;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;
import org.jspecify.annotations.Nullable;

/**
 * Where a collector reports what it does: JFR events (always, near-free when no recording
 * enables them) and any number of listeners (the Micrometer binder, one per registry). The
 * collector calls {@link #closed()} when it is closed: every listener is told once and dropped,
 * and none can be added after that. Thread-safe; a listener's RuntimeException never reaches
 * the run.
 */
final class Telemetry {

  /*
   * Cost on the hot path when nothing listens: a volatile read of `listeners` (an empty array)
   * and, per JFR event type, an allocation the JIT scalar-replaces plus an isEnabled() check
   * (the events are disabled by default). Timestamps are System.nanoTime() calls the collector
   * makes anyway where it needs them; the handler timing is two extra nanoTime calls per
   * attempt.
   */

  /** Handler outcome tag values. */
  static final String SUCCESS = "success";
  static final String FAILURE = "failure";
  static final String TIMEOUT = "timeout";
  /** An attempt the run interrupted because it was cancelling: not a failure of the batch. */
  static final String CANCELLED = "cancelled";

  /** Receives every event; implemented by the Micrometer binder. */
  interface Listener {
    /**
     * The collector was closed. Called once, never under a lock; an event that raced close()
     * may still arrive after it.
     */
    default void closed() {}

    void fetched(int records, long fetchNanos);

    void windowFull(long waitNanos);

    void handled(int records, long nanos, String outcome);

    void acknowledged(int records);

    void retried();

    void deadLettered();

    void committed(long batches, long nanos);

    void misuse(String kind);
  }

  private static final Listener[] NONE = {};

  private final String collector;
  /** Copy-on-write: replaced whole under {@code lock}, read without it on the hot path. */
  private volatile Listener[] listeners = NONE;
  private final ReentrantLock lock = new ReentrantLock();
  @GuardedBy("lock")
  private boolean closed;

  private volatile boolean listenerFailureLogged;

  Telemetry(String collector) {
    this.collector = collector;
  }

  /**
   * A listener threw: telemetry must never change what a run does, so the event is dropped for
   * that listener and the first such failure logged — also for errors such as a
   * NoSuchMethodError from a Micrometer version mismatch. Only a VirtualMachineError (out of
   * memory, stack overflow) propagates: the run fails, saying so.
   */
  private void listenerFailed(Throwable e) {
    if (e instanceof VirtualMachineError vme) {
      throw vme;
    }
    if (!listenerFailureLogged) {
      listenerFailureLogged = true;
      RunContext.log(
          System.Logger.Level.WARNING,
          "collector '" + collector + "': a telemetry listener threw; its events are dropped"
              + " (logged once per collector)",
          e);
    }
  }

  /**
   * Adds a listener.
   *
   * @return false, and nothing added, if the collector is closed already
   */
  boolean listen(Listener listener) {
    lock.lock();
    try {
      if (closed) {
        return false;
      }
      Listener[] now = Arrays.copyOf(listeners, listeners.length + 1);
      now[now.length - 1] = listener;
      listeners = now;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Removes a listener, if it listens. */
  void unlisten(Listener listener) {
    lock.lock();
    try {
      listeners = Arrays.stream(listeners).filter(l -> l != listener).toArray(Listener[]::new);
    } finally {
      lock.unlock();
    }
  }

  /** The collector was closed: tells every listener once and drops them all. Idempotent. */
  void closed() {
    Listener[] told;
    lock.lock();
    try {
      closed = true;
      told = listeners;
      listeners = NONE;
    } finally {
      lock.unlock();
    }
    for (Listener l : told) {
      try {
        l.closed();
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void fetched(int records, long fetchNanos) {
    for (Listener l : listeners) {
      try {
        l.fetched(records, fetchNanos);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  /*
   * JFR events carry their real duration (begin() when the timed thing starts, end() when it
   * ends), so that a recording's thresholds can filter them. When no recording enables an event
   * type, begin...() returns null after one read of the type's enabled flag: no allocation.
   */
  private static final EventType HANDLED = EventType.getEventType(BatchHandledEvent.class);
  private static final EventType COMMIT = EventType.getEventType(CommitEvent.class);
  private static final EventType WINDOW_FULL = EventType.getEventType(WindowFullEvent.class);

  /** A handler attempt (or pull delivery) starts: its JFR event, if a recording wants it. */
  static @Nullable BatchHandledEvent beginHandled() {
    if (!HANDLED.isEnabled()) {
      return null;
    }
    BatchHandledEvent e = new BatchHandledEvent();
    e.begin();
    return e;
  }

  /** A store commit starts: its JFR event, if a recording wants it. */
  static @Nullable CommitEvent beginCommit() {
    if (!COMMIT.isEnabled()) {
      return null;
    }
    CommitEvent e = new CommitEvent();
    e.begin();
    return e;
  }

  /** A wait for a full window starts: its JFR event, if a recording wants it. */
  static @Nullable WindowFullEvent beginWindowFull() {
    if (!WINDOW_FULL.isEnabled()) {
      return null;
    }
    WindowFullEvent e = new WindowFullEvent();
    e.begin();
    return e;
  }

  void windowFull(@Nullable WindowFullEvent event, long waitNanos) {
    for (Listener l : listeners) {
      try {
        l.windowFull(waitNanos);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
    if (event != null) {
      event.end();
      if (event.shouldCommit()) {
        event.collector = collector;
        event.waited = waitNanos;
        event.commit();
      }
    }
  }

  void handled(
      @Nullable BatchHandledEvent event, long sequence, int records, long nanos, String outcome) {
    for (Listener l : listeners) {
      try {
        l.handled(records, nanos, outcome);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
    if (event != null) {
      event.end();
      if (event.shouldCommit()) {
        event.collector = collector;
        event.sequence = sequence;
        event.records = records;
        event.handlerDuration = nanos;
        event.outcome = outcome;
        event.commit();
      }
    }
  }

  void acknowledged(int records) {
    for (Listener l : listeners) {
      try {
        l.acknowledged(records);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void retried() {
    for (Listener l : listeners) {
      try {
        l.retried();
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void deadLettered() {
    for (Listener l : listeners) {
      try {
        l.deadLettered();
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void committed(@Nullable CommitEvent event, long checkpoint, long batches, long nanos) {
    for (Listener l : listeners) {
      try {
        l.committed(batches, nanos);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
    if (event != null) {
      event.end();
      if (event.shouldCommit()) {
        event.collector = collector;
        event.checkpoint = checkpoint;
        event.batches = batches;
        event.commitDuration = nanos;
        event.commit();
      }
    }
  }

  void misuse(String kind) {
    for (Listener l : listeners) {
      try {
        l.misuse(kind);
      } catch (Throwable e) {
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
