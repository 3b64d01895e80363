package dev.collector;

import java.util.List;
import java.util.Objects;

/**
 * What a {@link SourceReader} returns for one fetch: the records and where to resume after them.
 * The collector assigns the sequence number.
 *
 * @param records the records of the batch; copied, so the reader may reuse its list
 * @param resumeToken the position right after the last record, in the source's own format: a reader
 *     opened at this token continues with the record after this batch
 * @param <T> the record type
 *     <p><b>A closed record: exactly these two components, forever.</b> Sources construct it on
 *     every fetch and may deconstruct it ({@code case SourceBatch(var records, var token)}); adding
 *     a component would break every one of them, so none will be added. Anything more a source
 *     needs to resume after the batch (a file identity, an offset map, a fingerprint) goes into the
 *     resume token, in the source's own format, as for {@link Checkpoint}. See {@code
 *     docs/adr/0008-evolvable-api-types.md}.
 */
public record SourceBatch<T>(List<T> records, String resumeToken) {

  /** Validates and copies the components. */
  public SourceBatch {
    records = List.copyOf(records);
    Objects.requireNonNull(resumeToken, "resumeToken");
  }
}
