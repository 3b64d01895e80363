package dev.collector;

import java.io.Serializable;
import java.util.Objects;

/**
 * A committed position: every batch with a sequence below {@link #sequence()} was handled and
 * acknowledged, and the source resumes from {@link #resumeToken()}.
 *
 * @param sequence the sequence number of the next batch to deliver (equivalently, how many batches
 *     were committed since the store was new); never negative
 * @param resumeToken where the source resumes, in the source's own format (a byte offset, an offset
 *     map, a file identity plus offset, ...). Opaque to the collector; the empty string means "from
 *     the beginning"
 *     <p><b>A closed record: exactly these two components, forever.</b> Stores construct
 *     checkpoints and may deconstruct them ({@code case Checkpoint(long seq, String token)});
 *     adding a component would break every one of them, so none will be added. Anything more a
 *     source needs to resume (a file identity, an offset map, a fingerprint) goes into the resume
 *     token, in the source's own format. See {@code docs/adr/0008-evolvable-api-types.md}.
 */
public record Checkpoint(long sequence, String resumeToken) implements Serializable {

  /** The position of a store that was never committed to: sequence 0, the source's start. */
  public static final Checkpoint INITIAL = new Checkpoint(0, "");

  /**
   * Validates the components.
   *
   * @throws IllegalArgumentException if {@code sequence} is negative
   */
  public Checkpoint {
    if (sequence < 0) {
      throw new IllegalArgumentException("sequence must be >= 0, was " + sequence);
    }
    Objects.requireNonNull(resumeToken, "resumeToken");
  }
}
