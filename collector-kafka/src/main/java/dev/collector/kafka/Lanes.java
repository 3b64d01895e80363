package dev.collector.kafka;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jspecify.annotations.Nullable;

/**
 * Record-mode ordering: which units must wait for another. Not thread-safe; used under the {@link
 * Window}'s lock.
 */
final class Lanes {

  /*
   * Invariant: of the units that share a lane, at most one is startable at a time -- the head of
   * the lane's queue -- and the queue is in dispatch order, which within a partition is offset
   * order. A lane is keyed by the partition's track (epoch) and, in KEY mode, the record key, so
   * a new epoch of the partition never waits for (or overtakes) a fenced one's units.
   * The lane empties and disappears when its last unit finishes, so memory follows the units in
   * flight, not the number of keys ever seen.
   */

  private record KeyLane(PartitionTrack track, @Nullable Object key) {}

  private final Map<Object, ArrayDeque<WorkUnit>> lanes = new HashMap<>();

  /** The lane a record of {@code track} runs in under {@code ordering}; null: its own. */
  static @Nullable Object laneOf(Ordering ordering, PartitionTrack track, ConsumerRecord<?, ?> r) {
    return switch (ordering) {
      case UNORDERED -> null;
      case PARTITION -> track;
      case KEY ->
          new KeyLane(track, r.key() instanceof byte[] bytes ? ByteBuffer.wrap(bytes) : r.key());
    };
  }

  /**
   * Adds a unit to its lane.
   *
   * @return {@code true} if it may start now, {@code false} if it waits for its lane
   */
  boolean offer(WorkUnit unit) {
    Object lane = unit.lane;
    if (lane == null) {
      return true;
    }
    ArrayDeque<WorkUnit> queue = lanes.get(lane);
    if (queue == null) {
      queue = new ArrayDeque<>();
      queue.addLast(unit);
      lanes.put(lane, queue);
      return true;
    }
    queue.addLast(unit);
    return false;
  }

  /**
   * Removes a finished (or dropped) unit from the head of its lane.
   *
   * @return the lane's next unit, which may start now, or {@code null}
   */
  @Nullable WorkUnit finish(WorkUnit unit) {
    Object lane = unit.lane;
    if (lane == null) {
      return null;
    }
    ArrayDeque<WorkUnit> queue = lanes.get(lane);
    if (queue == null || queue.peekFirst() != unit) {
      throw new IllegalStateException("unit " + unit + " finished but is not the head of its lane");
    }
    queue.pollFirst();
    WorkUnit next = queue.peekFirst();
    if (next == null) {
      lanes.remove(lane);
    }
    return next;
  }
}
