package dev.collector.core;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Settings of the built-in line-file source ({@link Collecting#lineFileSource(java.nio.file.Path,
 * LineSourceOptions)}). Build with {@link #builder()}; every setting has a default.
 *
 * <p>A final class rather than a record, so that a setting can be added in a minor release without
 * breaking callers: see {@code docs/adr/0008-evolvable-api-types.md}. It lives in collector-core,
 * next to the source it configures. Immutable; {@link #equals} compares every setting.
 */
public final class LineSourceOptions {

  /** What to do with a line longer than {@link #maxLineLength()}. */
  public enum LongLines {
    /** Fail the fetch with an error naming the line's byte offset. */
    FAIL,
    /**
     * Deliver it in pieces of {@code maxLineLength} bytes, the last one up to the line end; every
     * byte is in exactly one piece. A character cut in two is decoded per {@link
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

  private final int maxLines;
  private final int maxBytes;
  private final int maxLineLength;
  private final LongLines longLines;
  private final MalformedInput malformedInput;
  private final boolean follow;
  private final Duration pollInterval;

  /** Validates the builder's settings; the messages name the setting and the value. */
  private LineSourceOptions(Builder b) {
    this.maxLines = b.maxLines;
    this.maxBytes = b.maxBytes;
    this.maxLineLength = b.maxLineLength;
    this.longLines = Objects.requireNonNull(b.longLines, "longLines");
    this.malformedInput = Objects.requireNonNull(b.malformedInput, "malformedInput");
    this.follow = b.follow;
    this.pollInterval = Objects.requireNonNull(b.pollInterval, "pollInterval");
    positive("maxLines", maxLines);
    positive("maxBytes", maxBytes);
    positive("maxLineLength", maxLineLength);
    if (pollInterval.isNegative() || pollInterval.isZero()) {
      throw new IllegalArgumentException("pollInterval must be > 0, was " + pollInterval);
    }
  }

  /**
   * Lines per batch at most. Default 1000.
   *
   * @return the line limit per batch
   */
  public int maxLines() {
    return maxLines;
  }

  /**
   * Bytes of the file per batch at most, line ends included; a single line larger than this is a
   * batch of its own. Default 1 MiB.
   *
   * @return the byte limit per batch
   */
  public int maxBytes() {
    return maxBytes;
  }

  /**
   * The longest line, in bytes without its line end ({@code \n} or {@code \r\n}), held in memory.
   * Default 1 MiB.
   *
   * @return the longest line in bytes
   */
  public int maxLineLength() {
    return maxLineLength;
  }

  /**
   * What happens to a line longer than {@link #maxLineLength()}. Default {@link LongLines#FAIL}.
   *
   * @return the long-line policy
   */
  public LongLines longLines() {
    return longLines;
  }

  /**
   * What happens to bytes that are not UTF-8. Default {@link MalformedInput#REPLACE}.
   *
   * @return the malformed-input policy
   */
  public MalformedInput malformedInput() {
    return malformedInput;
  }

  /**
   * Keep reading as the file grows and across rotations, like {@code tail -F}, instead of ending at
   * its end. Batches then end where the file ended when read, so a batch replayed after a crash may
   * hold more lines than before. Default {@code false}.
   *
   * @return whether the source follows the file
   */
  public boolean follow() {
    return follow;
  }

  /**
   * How often a following source looks for new data. Default 200 ms.
   *
   * @return the poll interval
   */
  public Duration pollInterval() {
    return pollInterval;
  }

  /**
   * Equal if every setting is equal.
   *
   * @param o the other object
   * @return whether {@code o} is a {@code LineSourceOptions} with the same settings
   */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof LineSourceOptions other
        && maxLines == other.maxLines
        && maxBytes == other.maxBytes
        && maxLineLength == other.maxLineLength
        && longLines == other.longLines
        && malformedInput == other.malformedInput
        && follow == other.follow
        && pollInterval.equals(other.pollInterval);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        maxLines, maxBytes, maxLineLength, longLines, malformedInput, follow, pollInterval);
  }

  /** Every setting, in the format records use: {@code LineSourceOptions[maxLines=1000, ...]}. */
  @Override
  public String toString() {
    return "LineSourceOptions[maxLines="
        + maxLines
        + ", maxBytes="
        + maxBytes
        + ", maxLineLength="
        + maxLineLength
        + ", longLines="
        + longLines
        + ", malformedInput="
        + malformedInput
        + ", follow="
        + follow
        + ", pollInterval="
        + pollInterval
        + "]";
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

  /** Builds {@link LineSourceOptions}; validation happens in {@link #build()}. Not thread-safe. */
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
     * @throws IllegalArgumentException if a setting is out of range
     */
    public LineSourceOptions build() {
      return new LineSourceOptions(this);
    }
  }
}
