package dev.collector.kafka;

import java.util.ArrayDeque;
import org.apache.kafka.common.TopicPartition;

/**
 * One assignment (epoch) of one partition to this collector: its dispatched units in offset order
 * and its commit frontier. Guarded by the {@link Window}'s lock, except {@link #endOffset}.
 */
final class PartitionTrack {

  /*
   * Invariant: `acked` (the commit frontier) is the end offset of the longest prefix of this
   * epoch's dispatched units that are all DONE, and `committed <= acked`. Units are added in
   * offset order (the poll thread dispatches a partition's records in the order Kafka returned
   * them), finish in any order, and leave `inFlight` only from its head, only when DONE. A gap --
   * a running, queued, aborted or dropped unit -- stops the frontier, so a commit can never pass
   * an unhandled record.
   *
   * A new assignment of the same partition gets a new track (a new epoch) starting at whatever
   * the group has committed; the old track is `fenced` and never asked for a commit again, so a
   * completion that arrives for it late changes nothing that the next owner sees.
   */

  final TopicPartition partition;
  final long epoch;
  final ArrayDeque<WorkUnit> inFlight = new ArrayDeque<>();

  /** The offset after the last dispatched record, or -1 if none yet. */
  long fetched = -1;

  /** The offset after the contiguous handled prefix, or -1 if nothing was handled yet. */
  long acked = -1;

  /** Units in the handled prefix that are not committed yet. */
  int ackedUnits;

  /** Records in those units. */
  long ackedRecords;

  /** The offset this epoch last committed, or -1. */
  long committed = -1;

  int running;

  /** Being revoked: queued units are dropped, nothing new is dispatched. */
  boolean revoking;

  /** Revoked or lost: nothing of this epoch is ever committed again. */
  boolean fenced;

  /**
   * The offset this epoch started at (the group's committed offset when it was assigned, or where
   * auto.offset.reset put it): the first dispatched offset, or the consumer's position seen before
   * anything was dispatched; -1 while unknown. Set once, by the poll thread.
   */
  volatile long start = -1;

  /** The partition's end offset, from the poll thread; -1 while unknown. */
  volatile long endOffset = -1;

  PartitionTrack(TopicPartition partition, long epoch) {
    this.partition = partition;
    this.epoch = epoch;
  }

  void add(WorkUnit unit) {
    if (fetched >= 0 && unit.firstOffset < fetched) {
      throw new IllegalStateException(
          "unit " + unit + " dispatched behind offset " + fetched + " of " + partition);
    }
    if (start < 0) {
      start = unit.firstOffset;
    }
    inFlight.addLast(unit);
    fetched = unit.endOffset;
  }

  /** Moves the frontier over the DONE units at the head. */
  void advance() {
    WorkUnit head;
    while ((head = inFlight.peekFirst()) != null && head.state == WorkUnit.State.DONE) {
      inFlight.pollFirst();
      acked = head.endOffset;
      ackedUnits += head.units;
      ackedRecords += head.records.size();
    }
  }

  /**
   * Records a commit the group confirmed.
   *
   * @return {@code false} if it changes nothing: the track was fenced, or a later commit came first
   */
  boolean committed(Window.CommitPoint point) {
    if (fenced || point.offset() <= committed) {
      return false;
    }
    committed = point.offset();
    ackedUnits -= point.units();
    ackedRecords -= point.records();
    return true;
  }

  /**
   * Interrupts the threads running units of this epoch. Under the window's lock, so an interrupt
   * cannot hit a runner's next unit: a unit leaves RUNNING under the same lock.
   */
  void interruptRunning() {
    for (WorkUnit unit : inFlight) {
      Thread runner = unit.runner;
      if (unit.state == WorkUnit.State.RUNNING && runner != null) {
        runner.interrupt();
      }
    }
  }

  /** Units dispatched but neither committed nor running. */
  int idleUnits() {
    int idle = ackedUnits;
    for (WorkUnit unit : inFlight) {
      if (unit.state != WorkUnit.State.RUNNING) {
        idle += unit.units;
      }
    }
    return idle;
  }

  int waiting() {
    int waiting = 0;
    for (WorkUnit unit : inFlight) {
      if (unit.state == WorkUnit.State.DONE) {
        waiting++;
      }
    }
    return waiting;
  }

  int uncommittedUnits() {
    int units = ackedUnits;
    for (WorkUnit unit : inFlight) {
      units += unit.units;
    }
    return units;
  }

  PartitionProgress progress() {
    long end = endOffset;
    // end minus the group's committed offset: before this epoch's first commit that is the
    // offset the epoch started at (records fetched but not committed are still lag)
    long base = committed >= 0 ? committed : start;
    long lag = end < 0 || base < 0 ? -1 : Math.max(0, end - base);
    return PartitionProgress.builder()
        .topic(partition.topic())
        .partition(partition.partition())
        .epoch(epoch)
        .fetched(fetched)
        .committed(committed)
        .inFlight(uncommittedUnits())
        .running(running)
        .waiting(waiting())
        .lag(lag)
        .build();
  }

  boolean stopped() {
    return revoking || fenced;
  }
}
