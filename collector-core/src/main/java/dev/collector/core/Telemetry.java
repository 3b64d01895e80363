package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.CollectorListener;
import dev.collector.CollectorListener.Outcome;
import dev.collector.MisuseException;
import dev.collector.Registration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * Where a collector reports what it does: JFR events (always, near-free when no recording enables
 * them) and any number of {@link CollectorListener}s (the Micrometer binder, one per registry, and
 * users' own). The collector calls {@link #closed()} when it is closed: every listener is told once
 * and dropped, and none can be added after that. Thread-safe; a listener's Throwable never reaches
 * the run, except a VirtualMachineError.
 */
final class Telemetry {

  /*
   * Cost on the hot path when nothing listens: a volatile read of `listeners` (an empty array)
   * and, per JFR event type, an allocation the JIT scalar-replaces plus an isEnabled() check
   * (the events are disabled by default). Timestamps are System.nanoTime() calls the collector
   * makes anyway where it needs them; the handler timing is two extra nanoTime calls per
   * attempt. Events pass primitives and enum constants: nothing is allocated per event.
   *
   * Registration: copy-on-write. listen() and Registration.close() replace the array under
   * `lock`; an event reads it once when it starts and calls that snapshot. So a listener added
   * during a run gets every event that starts after listen() returned, and a closed
   * registration gets no event that starts after close() returned (one that read the old
   * snapshot may still finish). No listener is ever called under `lock`, so a listener may
   * listen() or close a registration from inside a callback.
   */

  /** The JFR outcome tag: a constant, nothing allocated. */
  static String tag(Outcome outcome) {
    return switch (outcome) {
      case SUCCESS -> "success";
      case FAILURE -> "failure";
      case TIMEOUT -> "timeout";
      case CANCELLED -> "cancelled";
    };
  }

  private static final CollectorListener[] NONE = {};

  private final String collector;

  /** Copy-on-write: replaced whole under {@code lock}, read without it on the hot path. */
  private volatile CollectorListener[] listeners = NONE;

  private final ReentrantLock lock = new ReentrantLock();

  @GuardedBy("lock")
  private boolean closed;

  private final AtomicBoolean listenerFailureLogged = new AtomicBoolean(); // log it once

  Telemetry(String collector) {
    this.collector = collector;
  }

  /**
   * A listener threw: telemetry must never change what a run does, so the event is dropped for that
   * listener and the first such failure logged — also for errors such as a NoSuchMethodError from a
   * Micrometer version mismatch. Only a VirtualMachineError (out of memory, stack overflow)
   * propagates: the run fails, saying so.
   */
  private void listenerFailed(Throwable e) {
    if (e instanceof VirtualMachineError vme) {
      throw vme;
    }
    if (listenerFailureLogged.compareAndSet(false, true)) { // once, also when listeners race
      RunContext.log(
          System.Logger.Level.WARNING,
          "collector '"
              + collector
              + "': a telemetry listener threw; its events are dropped"
              + " (logged once per collector)",
          e);
    }
  }

  /**
   * Adds a listener.
   *
   * @return its registration, or null (nothing added) if the collector is closed already
   */
  @Nullable Registration listen(CollectorListener listener) {
    lock.lock();
    try {
      if (closed) {
        return null;
      }
      CollectorListener[] now = Arrays.copyOf(listeners, listeners.length + 1);
      now[now.length - 1] = listener;
      listeners = now;
      return new Listening(listener);
    } finally {
      lock.unlock();
    }
  }

  /** One registration: removes one occurrence of its listener, once. */
  private final class Listening implements Registration {
    private final CollectorListener listener;

    @GuardedBy("Telemetry.this.lock")
    private boolean removed;

    Listening(CollectorListener listener) {
      this.listener = listener;
    }

    @Override
    public void close() {
      lock.lock();
      try {
        if (removed || closed) {
          removed = true;
          return; // closed already, or the collector's close() dropped every listener
        }
        removed = true;
        CollectorListener[] now = listeners;
        for (int i = now.length - 1; i >= 0; i--) {
          if (now[i] == listener) {
            CollectorListener[] fewer = new CollectorListener[now.length - 1];
            System.arraycopy(now, 0, fewer, 0, i);
            System.arraycopy(now, i + 1, fewer, i, now.length - i - 1);
            listeners = fewer;
            return;
          }
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public String toString() {
      return "Registration[" + listener + " on collector '" + collector + "']";
    }
  }

  /** The collector was closed: tells every listener once and drops them all. Idempotent. */
  void closed() {
    CollectorListener[] told;
    lock.lock();
    try {
      closed = true;
      told = listeners;
      listeners = NONE;
    } finally {
      lock.unlock();
    }
    VirtualMachineError fatal = null; // every listener is told, even after one threw one
    for (CollectorListener l : told) {
      try {
        l.closed();
      } catch (VirtualMachineError e) {
        if (fatal == null) {
          fatal = e;
        } else if (fatal != e) {
          fatal.addSuppressed(e);
        }
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
    if (fatal != null) {
      throw fatal;
    }
  }

  void fetched(long sequence, int records, long fetchNanos) {
    for (CollectorListener l : listeners) {
      try {
        l.fetched(sequence, records, fetchNanos);
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
    for (CollectorListener l : listeners) {
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
      @Nullable BatchHandledEvent event, long sequence, int records, long nanos, Outcome outcome) {
    for (CollectorListener l : listeners) {
      try {
        l.handled(sequence, records, nanos, outcome);
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
        event.outcome = tag(outcome);
        event.commit();
      }
    }
  }

  void acknowledged(long sequence, int records) {
    for (CollectorListener l : listeners) {
      try {
        l.acknowledged(sequence, records);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void retried(long sequence) {
    for (CollectorListener l : listeners) {
      try {
        l.retried(sequence);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void deadLettered(long sequence) {
    for (CollectorListener l : listeners) {
      try {
        l.deadLettered(sequence);
      } catch (Throwable e) {
        listenerFailed(e);
      }
    }
  }

  void committed(@Nullable CommitEvent event, long checkpoint, long batches, long nanos) {
    for (CollectorListener l : listeners) {
      try {
        l.committed(checkpoint, batches, nanos);
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

  void misuse(MisuseException misuse) {
    Class<? extends MisuseException> kind = misuse.getClass();
    long sequence = misuse.sequence();
    for (CollectorListener l : listeners) {
      try {
        l.misuse(kind, sequence);
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
    @Label("Collector")
    String collector = "";

    @Label("Sequence")
    long sequence;

    @Label("Records")
    int records;

    @Label("Handler Duration")
    @Timespan(Timespan.NANOSECONDS)
    long handlerDuration;

    @Label("Outcome")
    String outcome = "";
  }

  /** JFR: a checkpoint became durable. */
  @Name("dev.collector.Commit")
  @Label("Checkpoint Commit")
  @Category("Collector")
  @Enabled(false)
  @StackTrace(false)
  static final class CommitEvent extends Event {
    @Label("Collector")
    String collector = "";

    @Label("Checkpoint")
    long checkpoint;

    @Label("Batches Covered")
    long batches;

    @Label("Commit Duration")
    @Timespan(Timespan.NANOSECONDS)
    long commitDuration;
  }

  /** JFR: the fetcher waited for a window slot (head-of-line blocking). */
  @Name("dev.collector.WindowFull")
  @Label("Window Full")
  @Category("Collector")
  @Enabled(false)
  @StackTrace(false)
  static final class WindowFullEvent extends Event {
    @Label("Collector")
    String collector = "";

    @Label("Waited")
    @Timespan(Timespan.NANOSECONDS)
    long waited;
  }
}
