package dev.collector;

import java.time.Duration;
import java.util.Objects;

/**
 * What one {@link Collector#process} run did.
 *
 * @param batches batches handled and committed by this run
 * @param records records in those batches
 * @param commits store commits this run made (group commit makes this at most {@code batches})
 * @param duration the run's wall-clock time
 * @param stopped {@code true} if the run ended because of {@link Collector#stop()} rather than
 *     the end of the source
 * @param uncommitted batches fetched but left uncommitted when a stop ended the run; they are
 *     delivered again by the next run
 * @param deadLettered batches handed to the {@link DeadLetterHandler} (counted in {@code
 *     batches}: they were settled and committed past)
 * @param checkpoint the durable checkpoint when the run returned
 */
public record ProcessSummary(
    long batches,
    long records,
    long commits,
    Duration duration,
    boolean stopped,
    long uncommitted,
    long deadLettered,
    Checkpoint checkpoint) {

  /** Validates the components. */
  public ProcessSummary {
    Objects.requireNonNull(duration, "duration");
    Objects.requireNonNull(checkpoint, "checkpoint");
  }
}
