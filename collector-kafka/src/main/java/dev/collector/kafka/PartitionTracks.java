package dev.collector.kafka;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.jspecify.annotations.Nullable;

/**
 * The current epoch of every partition assigned to the run. Not thread-safe: used under the {@link
 * Window}'s lock.
 */
final class PartitionTracks {

  /*
   * Invariant: at most one track per partition is held here, and it is not fenced: fencing
   * removes a track for good, and a later assignment of the same partition gets a new track with
   * a higher epoch. So "the track of a partition" always means the live epoch, and whatever
   * still refers to an old track (a running unit, a commit point) can tell by its `fenced` flag.
   */

  private final Map<TopicPartition, PartitionTrack> tracks = new HashMap<>();
  private long nextEpoch;

  /** The track of a newly assigned partition: a new epoch, or the live one if still assigned. */
  PartitionTrack assign(TopicPartition partition) {
    return tracks.computeIfAbsent(partition, tp -> new PartitionTrack(tp, ++nextEpoch));
  }

  @Nullable PartitionTrack get(TopicPartition partition) {
    return tracks.get(partition);
  }

  /** Removes a partition's track (it is being fenced), or returns {@code null} if none. */
  @Nullable PartitionTrack remove(TopicPartition partition) {
    return tracks.remove(partition);
  }

  /** The live tracks, of the given partitions or of all if {@code null}; a copy. */
  List<PartitionTrack> of(@Nullable Collection<TopicPartition> partitions) {
    List<PartitionTrack> list = new ArrayList<>(tracks.size());
    for (PartitionTrack track : tracks.values()) {
      if (partitions == null || partitions.contains(track.partition)) {
        list.add(track);
      }
    }
    return list;
  }

  /** Handled units not committed yet, over all live tracks. */
  int committable() {
    int units = 0;
    for (PartitionTrack track : tracks.values()) {
      units += track.ackedUnits;
    }
    return units;
  }

  /** Handlers running for the given partitions. */
  int running(Collection<TopicPartition> partitions) {
    int busy = 0;
    for (TopicPartition tp : partitions) {
      PartitionTrack track = tracks.get(tp);
      busy += track == null ? 0 : track.running;
    }
    return busy;
  }

  /** The handled prefixes not committed yet, of the given partitions or of all. */
  List<Window.CommitPoint> commitPoints(@Nullable Collection<TopicPartition> partitions) {
    List<Window.CommitPoint> points = new ArrayList<>();
    for (PartitionTrack track : of(partitions)) {
      if (track.acked > track.committed) {
        points.add(
            new Window.CommitPoint(track, track.acked, track.ackedUnits, track.ackedRecords));
      }
    }
    return points;
  }

  /** Per-partition progress, ordered by topic and partition. */
  List<PartitionProgress> progress() {
    List<PartitionProgress> list = new ArrayList<>();
    for (PartitionTrack track : tracks.values()) {
      list.add(track.progress());
    }
    list.sort(
        Comparator.comparing(PartitionProgress::topic)
            .thenComparingInt(PartitionProgress::partition));
    return list;
  }
}
