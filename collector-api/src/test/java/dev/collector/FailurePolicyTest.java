package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@link FailurePolicy}: a final class since ADR 0008, built by its factories. */
class FailurePolicyTest {

  private static final Retry THREE = Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1));
  private static final DeadLetterHandler QUARANTINE = (batch, cause) -> {};

  @Test
  void failFast_isNoRetryNoDeadLetter() {
    FailurePolicy p = FailurePolicy.failFast();
    assertSame(Retry.NONE, p.retry());
    assertNull(p.deadLetter());
    assertEquals(CollectorOptions.defaults().failurePolicy(), p, "the default");
  }

  @Test
  void retry_thenFail() {
    FailurePolicy p = FailurePolicy.retry(THREE);
    assertEquals(THREE, p.retry());
    assertNull(p.deadLetter());
  }

  @Test
  void thenDeadLetter_keepsTheRetry_setsOrReplacesTheHandler() {
    FailurePolicy p = FailurePolicy.retry(THREE).thenDeadLetter(QUARANTINE);
    assertEquals(THREE, p.retry());
    assertSame(QUARANTINE, p.deadLetter());
    DeadLetterHandler other = (batch, cause) -> {};
    FailurePolicy replaced = p.thenDeadLetter(other);
    assertEquals(THREE, replaced.retry());
    assertSame(other, replaced.deadLetter());
    assertSame(QUARANTINE, p.deadLetter(), "the original is unchanged");
  }

  @Test
  void nulls_areRejectedNamingTheParameter() {
    assertEquals(
        "retry",
        assertThrows(NullPointerException.class, () -> FailurePolicy.retry(null)).getMessage());
    assertEquals(
        "handler",
        assertThrows(
                NullPointerException.class, () -> FailurePolicy.failFast().thenDeadLetter(null))
            .getMessage());
  }

  @Test
  void equalsAndHashCode_retryByValue_handlerByIdentity() {
    FailurePolicy p = FailurePolicy.retry(THREE).thenDeadLetter(QUARANTINE);
    FailurePolicy same =
        FailurePolicy.retry(Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1)))
            .thenDeadLetter(QUARANTINE);
    assertEquals(p, same);
    assertEquals(p.hashCode(), same.hashCode());
    assertEquals(FailurePolicy.failFast(), FailurePolicy.retry(Retry.NONE));
    assertEquals(FailurePolicy.failFast().hashCode(), FailurePolicy.retry(Retry.NONE).hashCode());
    assertNotEquals(p, null);
    assertNotEquals(p, p.toString());
    assertNotEquals(p, FailurePolicy.retry(Retry.NONE).thenDeadLetter(QUARANTINE));
    assertNotEquals(p, FailurePolicy.retry(THREE));
    assertNotEquals(p, FailurePolicy.retry(THREE).thenDeadLetter((batch, cause) -> {}));
  }

  @Test
  void toString_recordFormat() {
    assertEquals(
        "FailurePolicy[retry=" + THREE + ", deadLetter=null]",
        FailurePolicy.retry(THREE).toString());
    assertEquals(
        "FailurePolicy[retry=" + THREE + ", deadLetter=" + QUARANTINE + "]",
        FailurePolicy.retry(THREE).thenDeadLetter(QUARANTINE).toString());
  }
}
