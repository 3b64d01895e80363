package dev.collector;

import java.util.List;
import java.util.Objects;

/**
 * One batch as a handler or a pull caller sees it.
 *
 * @param sequence the batch's position in the source, assigned by the collector: consecutive,
 *     starting at the committed checkpoint's sequence. Stable across restarts (a replayed
 *     batch has the sequence it had before) as far as the source cuts batches reproducibly
 *     from a checkpoint; a source whose batches end where its data ended when read (the
 *     line-file source in follow mode) may replay a batch with more records, and later
 *     sequences shift: deduplicate by the source's record positions then.
 * @param records the batch's records, unmodifiable
 * @param resumeToken where the source resumes once this batch is committed
 * @param attempt which attempt at handling this batch this is, from 1; greater after a retry
 *     by the {@link FailurePolicy} within one run (a restart starts counting again)
 * @param <T> the record type
 */
public record Batch<T>(long sequence, List<T> records, String resumeToken, int attempt) {

  /**
   * Validates and copies the components.
   *
   * @throws IllegalArgumentException if {@code sequence} is negative or {@code attempt} is below 1
   */
  public Batch {
    if (sequence < 0) {
      throw new IllegalArgumentException("sequence must be >= 0, was " + sequence);
    }
    records = List.copyOf(records);
    Objects.requireNonNull(resumeToken, "resumeToken");
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt must be >= 1, was " + attempt);
    }
  }

  /**
   * This batch as its next attempt sees it.
   *
   * @return a copy with {@code attempt + 1}
   */
  public Batch<T> nextAttempt() {
    return new Batch<>(sequence, records, resumeToken, attempt + 1);
  }

  /**
   * The number of records in this batch.
   *
   * @return {@code records().size()}
   */
  public int size() {
    return records.size();
  }
}
