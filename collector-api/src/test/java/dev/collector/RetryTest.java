package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link Retry}: a final class since ADR 0008, built by {@link Retry#of} or {@link Retry#NONE}. */
class RetryTest {

  private static final Duration MS10 = Duration.ofMillis(10);
  private static final Duration S1 = Duration.ofSeconds(1);

  @Test
  void of_accessors() {
    Retry r = Retry.of(3, MS10, S1);
    assertEquals(3, r.maxAttempts());
    assertEquals(MS10, r.initialBackoff());
    assertEquals(S1, r.maxBackoff());
  }

  @Test
  void none_isOneAttemptWithoutDelay() {
    assertEquals(1, Retry.NONE.maxAttempts());
    assertEquals(Duration.ZERO, Retry.NONE.initialBackoff());
    assertEquals(Duration.ZERO, Retry.NONE.maxBackoff());
    assertEquals(Retry.of(1, Duration.ZERO, Duration.ZERO), Retry.NONE);
    assertEquals(Duration.ZERO, Retry.NONE.delay(1, new SplittableRandom(1)));
  }

  @Test
  void validation_messagesAsBefore() {
    assertMessage("maxAttempts must be >= 1, was 0", () -> Retry.of(0, MS10, S1));
    assertMessage(
        "initialBackoff must be >= 0, was PT-0.01S", () -> Retry.of(1, MS10.negated(), S1));
    assertMessage(
        "maxBackoff must be >= initialBackoff (PT1S), was PT0.01S", () -> Retry.of(1, S1, MS10));
    assertEquals(
        "initialBackoff",
        assertThrows(NullPointerException.class, () -> Retry.of(1, null, S1)).getMessage());
    assertEquals(
        "maxBackoff",
        assertThrows(NullPointerException.class, () -> Retry.of(1, MS10, null)).getMessage());
  }

  @Test
  void delay_isBoundedByTheDoublingBackoffAndTheCap() {
    Retry r = Retry.of(10, MS10, Duration.ofMillis(50));
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < 200; i++) {
      Duration first = r.delay(1, random);
      Duration third = r.delay(3, random);
      Duration tenth = r.delay(10, random);
      assertTrue(!first.isNegative() && first.compareTo(MS10) <= 0, "first: " + first);
      assertTrue(
          !third.isNegative() && third.compareTo(Duration.ofMillis(40)) <= 0, "3rd " + third);
      assertTrue(
          !tenth.isNegative() && tenth.compareTo(Duration.ofMillis(50)) <= 0, "10th " + tenth);
    }
  }

  @Test
  void equalsAndHashCode_compareEverySetting() {
    Retry r = Retry.of(3, MS10, S1);
    assertEquals(r, Retry.of(3, MS10, S1));
    assertEquals(r.hashCode(), Retry.of(3, MS10, S1).hashCode());
    assertNotEquals(r, null);
    assertNotEquals(r, r.toString());
    assertNotEquals(r, Retry.of(4, MS10, S1));
    assertNotEquals(r, Retry.of(3, Duration.ofMillis(11), S1));
    assertNotEquals(r, Retry.of(3, MS10, Duration.ofSeconds(2)));
  }

  @Test
  void toString_recordFormat() {
    assertEquals(
        "Retry[maxAttempts=3, initialBackoff=PT0.01S, maxBackoff=PT1S]",
        Retry.of(3, MS10, S1).toString());
  }

  private static void assertMessage(String message, Runnable build) {
    assertEquals(message, assertThrows(IllegalArgumentException.class, build::run).getMessage());
  }
}
