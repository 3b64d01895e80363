package dev.collector;

import java.util.List;
import java.util.Objects;

/**
 * One batch as a handler or a pull caller sees it.
 *
 * @param sequence the batch's position in the source, assigned by the collector: consecutive,
 *     starting at the committed checkpoint's sequence. Stable across restarts: a replayed
 *     batch has the sequence it had before.
 * @param records the batch's records, unmodifiable
 * @param resumeToken where the source resumes once this batch is committed
 * @param <T> the record type
 */
public record Batch<T>(long sequence, List<T> records, String resumeToken) {

  /**
   * Validates and copies the components.
   *
   * @throws IllegalArgumentException if {@code sequence} is negative
   */
  public Batch {
    if (sequence < 0) {
      throw new IllegalArgumentException("sequence must be >= 0, was " + sequence);
    }
    records = List.copyOf(records);
    Objects.requireNonNull(resumeToken, "resumeToken");
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
