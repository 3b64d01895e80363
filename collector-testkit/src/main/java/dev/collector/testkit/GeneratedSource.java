package dev.collector.testkit;

import dev.collector.BatchSource;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.util.ArrayList;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A finite source of {@code batches} batches of {@code recordsPerBatch} records each. Record ids
 * are consecutive longs: batch {@code b} holds {@code b * recordsPerBatch} up to {@code (b + 1)
 * * recordsPerBatch - 1}. The resume token is the index of the next batch, so a restart can be
 * checked against the ids it replays.
 */
public final class GeneratedSource implements BatchSource<Long> {

  private final long batches;
  private final int recordsPerBatch;
  private final AtomicInteger opens = new AtomicInteger();
  private final Map<Long, Integer> fetchFailures = new ConcurrentHashMap<>();

  /**
   * Creates the source.
   *
   * @param batches how many batches
   * @param recordsPerBatch records in each
   */
  public GeneratedSource(long batches, int recordsPerBatch) {
    if (batches < 0 || recordsPerBatch < 0) {
      throw new IllegalArgumentException(
          "batches and recordsPerBatch must be >= 0, were " + batches + ", " + recordsPerBatch);
    }
    this.batches = batches;
    this.recordsPerBatch = recordsPerBatch;
  }

  /**
   * The total number of records.
   *
   * @return {@code batches * recordsPerBatch}
   */
  public long totalRecords() {
    return batches * recordsPerBatch;
  }

  /**
   * Makes the next {@code times} fetches of batch {@code sequence} throw {@link IOException};
   * {@code Integer.MAX_VALUE} fails it for ever.
   *
   * @param sequence the batch
   * @param times how many fetches of it fail
   * @return this source
   */
  public GeneratedSource failFetch(long sequence, int times) {
    fetchFailures.put(sequence, times);
    return this;
  }

  /**
   * How many times a reader was opened.
   *
   * @return the count
   */
  public int opens() {
    return opens.get();
  }

  @Override
  public SourceReader<Long> open(String resumeToken) {
    long from = resumeToken.isEmpty() ? 0 : Long.parseLong(resumeToken);
    if (from < 0 || from > batches) {
      throw new IllegalArgumentException("resume token " + resumeToken + " is out of range");
    }
    opens.incrementAndGet();
    return new SourceReader<>() {
      private long next = from;

      @Override
      public @Nullable SourceBatch<Long> next() throws IOException {
        if (next >= batches) {
          return null;
        }
        long sequence = next;
        Integer left = fetchFailures.computeIfPresent(sequence, (s, n) -> n == 0 ? null : n - 1);
        if (left != null) {
          throw new IOException("injected fetch failure of batch " + sequence);
        }
        List<Long> records = new ArrayList<>(recordsPerBatch);
        long first = next * recordsPerBatch;
        for (int i = 0; i < recordsPerBatch; i++) {
          records.add(first + i);
        }
        next++;
        return new SourceBatch<>(records, Long.toString(next));
      }

      @Override
      public void close() {}
    };
  }
}
