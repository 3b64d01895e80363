package dev.collector;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One batch as a handler or a pull caller sees it: its {@link #sequence()}, its {@link #records()},
 * the {@link #resumeToken()} the source resumes from once it is committed, and which {@link
 * #attempt()} at handling it this is.
 *
 * <p>Collectors build batches; users read them. The factories are for collector implementations
 * ({@link #of(long, List, String, int)}) and for handler tests ({@link #of(long, List)}: a batch as
 * its first attempt sees it, with an empty resume token):
 *
 * {@snippet class=dev.collector.core.JavadocExamplesTest region=batchOf}
 *
 * <p>A final class, not a record (ADR 0008): a component may be added (a delivery time, a deadline)
 * without breaking callers that build or read batches. Immutable and thread-safe; equal when
 * sequence, records, resume token and attempt are.
 *
 * @param <T> the record type
 */
public final class Batch<T> {

  // Design note: the engine builds one Batch per fetched batch, so construction stays as cheap
  // as the record's was: one object, and List.copyOf, which returns an already unmodifiable list
  // (a SourceBatch's records) as it is. nextAttempt() shares the list without copying it again.

  private final long sequence;
  private final List<T> records;
  private final String resumeToken;
  private final int attempt;

  /** Takes validated components; {@code records} is already unmodifiable. */
  private Batch(long sequence, List<T> records, String resumeToken, int attempt) {
    this.sequence = sequence;
    this.records = records;
    this.resumeToken = resumeToken;
    this.attempt = attempt;
  }

  /**
   * A batch as its first attempt sees it, with an empty resume token: for handler tests.
   *
   * @param sequence the batch's sequence, at least 0
   * @param records the records; copied
   * @param <T> the record type
   * @return the batch, attempt 1
   * @throws IllegalArgumentException if {@code sequence} is negative
   * @throws NullPointerException if {@code records} or one of them is null
   */
  public static <T> Batch<T> of(long sequence, List<? extends T> records) {
    return of(sequence, records, "", 1);
  }

  /**
   * A batch with every component given: for collector implementations (and tests of retries or
   * resume tokens).
   *
   * @param sequence the batch's sequence, at least 0
   * @param records the records; copied (an unmodifiable list is taken as it is)
   * @param resumeToken where the source resumes once this batch is committed
   * @param attempt which attempt this is, at least 1
   * @param <T> the record type
   * @return the batch
   * @throws IllegalArgumentException if {@code sequence} is negative or {@code attempt} is below 1
   * @throws NullPointerException if {@code records}, one of them, or {@code resumeToken} is null
   */
  public static <T> Batch<T> of(
      long sequence, List<? extends T> records, String resumeToken, int attempt) {
    if (sequence < 0) {
      throw new IllegalArgumentException("sequence must be >= 0, was " + sequence);
    }
    List<T> copy = List.copyOf(Objects.requireNonNull(records, "records"));
    Objects.requireNonNull(resumeToken, "resumeToken");
    checkAttempt(attempt);
    return new Batch<>(sequence, copy, resumeToken, attempt);
  }

  private static void checkAttempt(int attempt) {
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt must be >= 1, was " + attempt);
    }
  }

  /**
   * The batch's position in the source, assigned by the collector: consecutive, starting at the
   * committed checkpoint's sequence. Stable across restarts (a replayed batch has the sequence it
   * had before) as far as the source cuts batches reproducibly from a checkpoint; a source whose
   * batches end where its data ended when read (the line-file source in follow mode) may replay a
   * batch with more records, and later sequences shift: deduplicate by the source's record
   * positions then.
   *
   * @return the sequence, at least 0
   */
  public long sequence() {
    return sequence;
  }

  /**
   * The batch's records.
   *
   * @return the records, unmodifiable
   */
  public List<T> records() {
    return records;
  }

  /**
   * Where the source resumes once this batch is committed, in the source's own format.
   *
   * @return the token, never null
   */
  public String resumeToken() {
    return resumeToken;
  }

  /**
   * Which attempt at handling this batch this is, from 1; greater after a retry by the {@link
   * FailurePolicy} within one run (a restart starts counting again).
   *
   * @return the attempt, at least 1
   */
  public int attempt() {
    return attempt;
  }

  /**
   * This batch as its next attempt sees it.
   *
   * @return a copy with {@code attempt + 1}, sharing the records
   */
  public Batch<T> nextAttempt() {
    checkAttempt(attempt + 1);
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

  /**
   * Equal to another batch with the same sequence, records ({@link List#equals}), resume token and
   * attempt.
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Batch<?> b
        && sequence == b.sequence
        && attempt == b.attempt
        && resumeToken.equals(b.resumeToken)
        && records.equals(b.records);
  }

  @Override
  public int hashCode() {
    int h = Long.hashCode(sequence);
    h = 31 * h + records.hashCode();
    h = 31 * h + resumeToken.hashCode();
    return 31 * h + attempt;
  }

  /** The record format: {@code Batch[sequence=3, records=[a, b], resumeToken=7, attempt=1]}. */
  @Override
  public String toString() {
    return "Batch[sequence="
        + sequence
        + ", records="
        + records
        + ", resumeToken="
        + resumeToken
        + ", attempt="
        + attempt
        + "]";
  }
}
