package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.core.LineSourceOptions.LongLines;
import dev.collector.core.LineSourceOptions.MalformedInput;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LineSourceOptionsTest {

  private static LineSourceOptions.Builder example() {
    return LineSourceOptions.builder()
        .maxLines(10)
        .maxBytes(4096)
        .maxLineLength(100, LongLines.SPLIT)
        .malformedInput(MalformedInput.REJECT)
        .follow(Duration.ofMillis(50));
  }

  @Test
  void defaults() {
    LineSourceOptions o = LineSourceOptions.builder().build();
    assertEquals(1000, o.maxLines());
    assertEquals(1 << 20, o.maxBytes());
    assertEquals(1 << 20, o.maxLineLength());
    assertEquals(LongLines.FAIL, o.longLines());
    assertEquals(MalformedInput.REPLACE, o.malformedInput());
    assertFalse(o.follow());
    assertEquals(Duration.ofMillis(200), o.pollInterval());
    assertEquals(
        "LineSourceOptions[maxLines=1000, maxBytes=1048576, maxLineLength=1048576,"
            + " longLines=FAIL, malformedInput=REPLACE, follow=false, pollInterval=PT0.2S]",
        o.toString());
  }

  @Test
  void accessorsReturnWhatWasSet() {
    LineSourceOptions o = example().build();
    assertEquals(10, o.maxLines());
    assertEquals(4096, o.maxBytes());
    assertEquals(100, o.maxLineLength());
    assertEquals(LongLines.SPLIT, o.longLines());
    assertEquals(MalformedInput.REJECT, o.malformedInput());
    assertTrue(o.follow());
    assertEquals(Duration.ofMillis(50), o.pollInterval());
  }

  @Test
  void equalsAndHashCode_compareEverySetting() {
    LineSourceOptions o = example().build();
    assertEquals(o, example().build());
    assertEquals(o.hashCode(), example().build().hashCode());
    assertNotEquals(o, null);
    assertNotEquals(o, o.toString());
    assertNotEquals(o, example().maxLines(11).build());
    assertNotEquals(o, example().maxBytes(4097).build());
    assertNotEquals(o, example().maxLineLength(101, LongLines.SPLIT).build());
    assertNotEquals(o, example().maxLineLength(100, LongLines.FAIL).build());
    assertNotEquals(o, example().malformedInput(MalformedInput.REPLACE).build());
    assertNotEquals(o, example().follow(Duration.ofMillis(51)).build());
    LineSourceOptions notFollowing =
        LineSourceOptions.builder()
            .maxLines(10)
            .maxBytes(4096)
            .maxLineLength(100, LongLines.SPLIT)
            .malformedInput(MalformedInput.REJECT)
            .build();
    assertNotEquals(o, notFollowing);
  }

  @Test
  void validation_namesTheSettingAndTheValue() {
    assertMessage("maxLines must be >= 1, was 0", example().maxLines(0));
    assertMessage("maxBytes must be >= 1, was 0", example().maxBytes(0));
    assertMessage("maxLineLength must be >= 1, was 0", example().maxLineLength(0, LongLines.FAIL));
    assertMessage("pollInterval must be > 0, was PT0S", example().follow(Duration.ZERO));
    assertMessage("pollInterval must be > 0, was PT-1S", example().follow(Duration.ofSeconds(-1)));
  }

  @Test
  @SuppressWarnings("NullAway")
  void nulls_areRejectedNamingTheSetting() {
    assertNull("longLines", example().maxLineLength(100, null));
    assertNull("malformedInput", example().malformedInput(null));
    assertNull("pollInterval", example().follow(null));
  }

  private static void assertMessage(String message, LineSourceOptions.Builder builder) {
    assertEquals(
        message, assertThrows(IllegalArgumentException.class, builder::build).getMessage());
  }

  private static void assertNull(String message, LineSourceOptions.Builder builder) {
    assertEquals(message, assertThrows(NullPointerException.class, builder::build).getMessage());
  }
}
