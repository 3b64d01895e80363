package dev.collector;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the built-in line-file source. Build with {@link #builder()}.
 *
 * @param maxLines lines per batch at most. Default 1000.
 * @param maxBytes bytes of the file per batch at most, line ends included; a single line larger
 *     than this is a batch of its own. Default 1 MiB.
 * @param maxLineLength the longest line, in bytes without its line end ({@code \n} or {@code
 *     \r\n}), held in memory. Default 1 MiB.
 * @param longLines what happens to a longer line. Default {@link LongLines#FAIL}.
 * @param malformedInput what happens to bytes that are not UTF-8. Default {@link
 *     MalformedInput#REPLACE}.
 * @param follow keep reading as the file grows and across rotations, like {@code tail -F},
 *     instead of ending at its end. Batches then end where the file ended when read, so a batch
 *     replayed after a crash may hold more lines than before. Default {@code false}.
 * @param pollInterval how often a following source looks for new data. Default 200 ms.
 */
public record LineSourceOptions(
    int maxLines,
    int maxBytes,
    int maxLineLength,
    LongLines longLines,
    MalformedInput malformedInput,
    boolean follow,
    Duration pollInterval) {

  /** What to do with a line longer than {@link #maxLineLength()}. */
  public enum LongLines {
    /** Fail the fetch with an error naming the line's byte offset. */
    FAIL,
    /**
     * Deliver it in pieces of {@code maxLineLength} bytes, the last one up to the line end;
     * every byte is in exactly one piece. A character cut in two is decoded per {@link
     * LineSourceOptions#malformedInput()}.
     */
    SPLIT
  }

  /** What to do with bytes that are not valid UTF-8. */
  public enum MalformedInput {
    /** Decode them as U+FFFD, the replacement character. */
    REPLACE,
    /** Fail the fetch with an error naming the line's byte offset. */
    REJECT
  }

  /**
   * Validates the settings.
   *
   * @throws IllegalArgumentException naming the parameter and the value
   */
  public LineSourceOptions {
    Objects.requireNonNull(longLines, "longLines");
    Objects.requireNonNull(malformedInput, "malformedInput");
    Objects.requireNonNull(pollInterval, "pollInterval");
    positive("maxLines", maxLines);
    positive("maxBytes", maxBytes);
    positive("maxLineLength", maxLineLength);
    if (pollInterval.isNegative() || pollInterval.isZero()) {
      throw new IllegalArgumentException("pollInterval must be > 0, was " + pollInterval);
    }
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be >= 1, was " + value);
    }
  }

  /**
   * A builder starting from the defaults.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link LineSourceOptions}. */
  public static final class Builder {
    private int maxLines = 1000;
    private int maxBytes = 1 << 20;
    private int maxLineLength = 1 << 20;
    private LongLines longLines = LongLines.FAIL;
    private MalformedInput malformedInput = MalformedInput.REPLACE;
    private boolean follow;
    private Duration pollInterval = Duration.ofMillis(200);

    private Builder() {}

    /**
     * Sets {@link LineSourceOptions#maxLines()}.
     *
     * @param maxLines lines per batch
     * @return this builder
     */
    public Builder maxLines(int maxLines) {
      this.maxLines = maxLines;
      return this;
    }

    /**
     * Sets {@link LineSourceOptions#maxBytes()}.
     *
     * @param maxBytes bytes per batch
     * @return this builder
     */
    public Builder maxBytes(int maxBytes) {
      this.maxBytes = maxBytes;
      return this;
    }

    /**
     * Sets {@link LineSourceOptions#maxLineLength()} and what to do beyond it.
     *
     * @param maxLineLength the longest line in bytes
     * @param longLines what happens to a longer one
     * @return this builder
     */
    public Builder maxLineLength(int maxLineLength, LongLines longLines) {
      this.maxLineLength = maxLineLength;
      this.longLines = longLines;
      return this;
    }

    /**
     * Sets {@link LineSourceOptions#malformedInput()}.
     *
     * @param malformedInput the policy
     * @return this builder
     */
    public Builder malformedInput(MalformedInput malformedInput) {
      this.malformedInput = malformedInput;
      return this;
    }

    /**
     * Makes the source follow the file as it grows.
     *
     * @param pollInterval how often to look for new data
     * @return this builder
     */
    public Builder follow(Duration pollInterval) {
      this.follow = true;
      this.pollInterval = pollInterval;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the options
     */
    public LineSourceOptions build() {
      return new LineSourceOptions(
          maxLines, maxBytes, maxLineLength, longLines, malformedInput, follow, pollInterval);
    }
  }
}
