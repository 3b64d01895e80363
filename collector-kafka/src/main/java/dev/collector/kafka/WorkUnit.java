package dev.collector.kafka;

import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jspecify.annotations.Nullable;

/**
 * One unit of work: a batch (records of one partition from one poll) or, in record mode, one
 * record. Mutable fields are guarded by the {@link Window}'s lock.
 */
final class WorkUnit {

  /*
   * Invariant: a unit belongs to exactly one partition epoch (its track) for its whole life, and
   * its state only moves QUEUED -> RUNNING -> (DONE | ABORTED), or QUEUED -> DROPPED. Only DONE
   * units may be passed by their track's commit frontier; a completion is matched against the
   * track it was dispatched under, never against whoever owns the partition now, which is what
   * makes fencing a matter of one flag on the track.
   */

  enum State {
    QUEUED,
    RUNNING,
    DONE,
    ABORTED,
    DROPPED
  }

  final PartitionTrack track;
  final long firstOffset;

  /** The offset after the unit's last record: what a commit covering it commits. */
  final long endOffset;

  final List<ConsumerRecord<?, ?>> records;

  /** Units of this lane run one at a time in dispatch order; {@code null}: its own lane. */
  final @Nullable Object lane;

  /** How much of {@code depth} this unit takes: always 1 (a batch, or a record). */
  final int units = 1;

  /** A record the deserializer could not read: the unit goes to the dead-letter handler only. */
  final @Nullable RuntimeException poison;

  State state = State.QUEUED;
  @Nullable Thread runner;
  long startedNanos;

  WorkUnit(
      PartitionTrack track, List<? extends ConsumerRecord<?, ?>> records, @Nullable Object lane) {
    this(track, records, lane, null);
  }

  WorkUnit(
      PartitionTrack track,
      List<? extends ConsumerRecord<?, ?>> records,
      @Nullable Object lane,
      @Nullable RuntimeException poison) {
    this.poison = poison;
    if (records.isEmpty()) {
      throw new IllegalArgumentException("a unit needs at least one record");
    }
    this.track = track;
    this.records = List.copyOf(records);
    this.firstOffset = records.get(0).offset();
    this.endOffset = records.get(records.size() - 1).offset() + 1;
    this.lane = lane;
  }

  @Override
  public String toString() {
    return track.partition
        + " offsets "
        + firstOffset
        + ".."
        + (endOffset - 1)
        + " (epoch "
        + track.epoch
        + ", "
        + state
        + ")";
  }
}
