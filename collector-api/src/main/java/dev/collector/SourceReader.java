package dev.collector;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * SPI: reads batches in order from one position of a {@link BatchSource}.
 *
 * <p>Used by one thread at a time, the collector's fetcher. {@link #next()} may block (a
 * follow-mode source waits for data) and must then answer an interrupt by throwing {@link
 * InterruptedException}: that is how the collector cancels a fetch.
 *
 * @param <T> the record type
 */
public interface SourceReader<T> extends AutoCloseable {

  /**
   * Reads the next batch.
   *
   * @return the next batch, or {@code null} when the source is exhausted; once it returned {@code
   *     null} the collector does not call it again
   * @throws InterruptedException if the fetching thread was interrupted while waiting
   * @throws Exception if the read failed (the run fails with a {@link SourceException})
   */
  @Nullable SourceBatch<T> next() throws Exception;

  /**
   * Releases the reader's resources. Called once, by the collector, when the run ends.
   *
   * @throws IOException if closing failed; the collector logs it and goes on
   */
  @Override
  void close() throws IOException;
}
