package dev.collector;

/**
 * SPI: a sequenced source that can be opened at a resume token.
 *
 * <p>The collector opens a reader at the committed checkpoint's token each time a run starts (a
 * {@code process} call or a pull session), reads it from one thread at a time, and closes it when
 * the run ends. The token is opaque to the collector: only the source interprets it.
 *
 * @param <T> the record type
 */
@FunctionalInterface
public interface BatchSource<T> {

  /**
   * Opens a reader that continues right after the position {@code resumeToken} describes.
   *
   * @param resumeToken a token this source returned in a {@link SourceBatch}, or the empty string
   *     for the beginning of the source
   * @return a new reader; the caller closes it
   * @throws Exception if the source cannot be opened there (the run fails with a {@link
   *     SourceException}, nothing committed changes)
   */
  SourceReader<T> open(String resumeToken) throws Exception;
}
