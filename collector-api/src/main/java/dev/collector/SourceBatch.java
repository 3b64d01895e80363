package dev.collector;

import java.util.List;
import java.util.Objects;

/**
 * What a {@link SourceReader} returns for one fetch: the records and where to resume after them.
 * The collector assigns the sequence number.
 *
 * @param records the records of the batch; copied, so the reader may reuse its list
 * @param resumeToken the position right after the last record, in the source's own format: a
 *     reader opened at this token continues with the record after this batch
 * @param <T> the record type
 */
public record SourceBatch<T>(List<T> records, String resumeToken) {

  /** Validates and copies the components. */
  public SourceBatch {
    records = List.copyOf(records);
    Objects.requireNonNull(resumeToken, "resumeToken");
  }
}
