package dev.collector.kafka;

import dev.collector.CheckpointException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Collection;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;

/**
 * A run's rebalance callbacks: what happens to a partition's epoch when the group takes the
 * partition away (revoked: drain, commit, fence; lost: fence) or gives it (a new epoch). Runs on
 * the poll thread, inside {@code poll} and {@code unsubscribe}.
 */
final class Rebalances implements ConsumerRebalanceListener {

  /*
   * Invariant: an epoch is fenced only after whatever of it may still be committed was committed
   * -- a revoked partition's handled prefix is committed (after its handlers were given
   * revokeDrainTimeout to finish, then interrupted) before the fence, a lost partition commits
   * nothing -- and after the fence nothing of the epoch is committed again (Window.fence,
   * PartitionTrack). A wait here that is interrupted does not end the callback early: the commit
   * and the fence still happen, and the poll loop learns of the interrupt (takeInterrupted).
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());

  private final String name;
  private final Window window;
  private final Committer committer;
  private final Duration revokeDrainTimeout;
  private final KafkaTelemetry telemetry;
  private boolean interrupted;

  Rebalances(
      String name,
      Window window,
      Committer committer,
      Duration revokeDrainTimeout,
      KafkaTelemetry telemetry) {
    this.telemetry = telemetry;
    this.name = name;
    this.window = window;
    this.committer = committer;
    this.revokeDrainTimeout = revokeDrainTimeout;
  }

  /** Whether a wait inside a callback was interrupted since the last call; clears it. */
  boolean takeInterrupted() {
    boolean was = interrupted;
    interrupted = false;
    return was;
  }

  @Override
  public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
    for (TopicPartition tp : partitions) {
      window.assign(tp);
    }
    telemetry.assigned(partitions); // metrics hook: after the window has the new epochs
    if (!partitions.isEmpty()) {
      LOG.log(Level.DEBUG, "{0}: assigned {1}", name, partitions);
    }
  }

  @Override
  public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
    if (partitions.isEmpty()) {
      return;
    }
    window.beginRevoke(partitions);
    boolean idle;
    try {
      idle = window.awaitIdle(partitions, System.nanoTime() + revokeDrainTimeout.toNanos());
    } catch (InterruptedException e) {
      interrupted = true;
      idle = false;
    }
    if (!idle) {
      window.interruptRunning(partitions);
      LOG.log(
          Level.WARNING,
          "{0}: partitions {1} revoked while handlers still ran after {2}"
              + " (revokeDrainTimeout); interrupted them, their records go to the next owner",
          name,
          partitions,
          revokeDrainTimeout);
    }
    try {
      committer.commit(window.commitPoints(partitions));
    } catch (CheckpointException e) {
      window.fail(e);
    } catch (InterruptedException e) {
      interrupted = true;
    }
    window.fence(partitions, false);
    telemetry.removed(partitions); // metrics hook: after the fence
    LOG.log(Level.DEBUG, "{0}: revoked {1}", name, partitions);
  }

  @Override
  public void onPartitionsLost(Collection<TopicPartition> partitions) {
    window.fence(partitions, true);
    telemetry.removed(partitions); // metrics hook: after the fence
    if (!partitions.isEmpty()) {
      LOG.log(
          Level.WARNING,
          "{0}: lost {1} without a chance to commit; their handled but"
              + " uncommitted records are handled again by the next owner",
          name,
          partitions);
    }
  }
}
