package dev.collector.kafka;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.apache.kafka.common.TopicPartition;

/**
 * What one collector tells its metrics binders: partitions assigned and gone, runs ended, the
 * collector closed; and the commits it made over all runs. No Micrometer type appears here, so the
 * collector runs without Micrometer on the class path.
 */
final class KafkaTelemetry {

  /*
   * Invariant: a listener added before close() gets closed() exactly once; one added after it is
   * refused (listen returns false), so a binder of a closed collector registers nothing. Partition
   * events come from the poll thread only (inside the rebalance callbacks, after the window
   * assigned or fenced the partitions), in the order Kafka reported them; a listener's exception
   * is logged, never thrown into the poll thread (metrics must not break consumption).
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  /** A binder's view of the collector's events. */
  interface Listener {
    /** The window has tracks for these partitions now (a new epoch each). */
    void assigned(Collection<TopicPartition> partitions);

    /** These partitions were revoked (after their commit) or lost, and fenced. */
    void removed(Collection<TopicPartition> partitions);

    /** A run is ending: no partition is assigned to it any more. */
    void runEnded();

    /** The collector was closed; called once. */
    void closed();
  }

  /** Totals over every finished run of the collector, or one run so far: monotonic. */
  record Counts(long acknowledged, long records, long deadLettered, long fenced) {
    static final Counts ZERO = new Counts(0, 0, 0, 0);

    static Counts of(Window.Totals t) {
      return new Counts(
          t.handled() - t.deadLettered(), t.handledRecords(), t.deadLettered(), t.fenced());
    }

    Counts plus(Counts o) {
      return new Counts(
          acknowledged + o.acknowledged,
          records + o.records,
          deadLettered + o.deadLettered,
          fenced + o.fenced);
    }
  }

  private final String name;
  private final ReentrantLock lock = new ReentrantLock();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final LongAdder commits = new LongAdder();

  /** Guarded by {@link #lock}. */
  private boolean closed;

  KafkaTelemetry(String name) {
    this.name = name;
  }

  /** Adds a listener; {@code false} (and nothing added) if the collector is closed. */
  boolean listen(Listener listener) {
    lock.lock();
    try {
      if (closed) {
        return false;
      }
      listeners.add(listener);
      return true;
    } finally {
      lock.unlock();
    }
  }

  void unlisten(Listener listener) {
    listeners.remove(listener);
  }

  /** A commit the group confirmed (one {@code commitSync} call). */
  void committed() {
    commits.increment();
  }

  long commits() {
    return commits.sum();
  }

  void assigned(Collection<TopicPartition> partitions) {
    if (!partitions.isEmpty()) {
      each("assigned", l -> l.assigned(partitions));
    }
  }

  void removed(Collection<TopicPartition> partitions) {
    if (!partitions.isEmpty()) {
      each("removed", l -> l.removed(partitions));
    }
  }

  void runEnded() {
    each("runEnded", Listener::runEnded);
  }

  void closed() {
    List<Listener> all;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      all = new ArrayList<>(listeners);
      listeners.clear();
    } finally {
      lock.unlock();
    }
    for (Listener l : all) {
      call("closed", l, Listener::closed);
    }
  }

  private void each(String event, Consumer<Listener> action) {
    for (Listener l : listeners) {
      call(event, l, action);
    }
  }

  private void call(String event, Listener l, Consumer<Listener> action) {
    try {
      action.accept(l);
    } catch (RuntimeException e) {
      LOG.log(
          Level.WARNING, "{0}: a metrics listener failed on {1}: {2}", name, event, e.toString());
    }
  }
}
