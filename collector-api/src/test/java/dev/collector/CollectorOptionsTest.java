package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class CollectorOptionsTest {

  private static CollectorOptions allChanged() {
    return CollectorOptions.builder()
        .name("orders")
        .depth(64)
        .ackOrdering(AckOrdering.STRICT)
        .drainTimeout(Duration.ofSeconds(5))
        .failurePolicy(FailurePolicy.retry(Retry.of(2, Duration.ofMillis(1), Duration.ofMillis(2))))
        .batchTimeout(Duration.ofSeconds(7))
        .stuckThreshold(Duration.ZERO)
        .fetchRetry(Retry.of(4, Duration.ofMillis(3), Duration.ofMillis(4)))
        .commitRetry(Retry.of(5, Duration.ofMillis(5), Duration.ofMillis(6)))
        .concurrency(8)
        .commitInterval(Duration.ofMillis(250))
        .build();
  }

  @Test
  void defaults() {
    CollectorOptions o = CollectorOptions.defaults();
    assertEquals("collector", o.name());
    assertEquals(16, o.depth());
    assertEquals(AckOrdering.BUFFERED, o.ackOrdering());
    assertEquals(Duration.ofSeconds(30), o.drainTimeout());
    assertEquals(FailurePolicy.failFast(), o.failurePolicy());
    assertEquals(Duration.ZERO, o.batchTimeout());
    assertEquals(Duration.ofSeconds(60), o.stuckThreshold());
    assertEquals(Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1)), o.fetchRetry());
    assertEquals(Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1)), o.commitRetry());
    assertEquals(0, o.concurrency());
    assertEquals(Duration.ZERO, o.commitInterval());
    assertEquals(16, o.concurrencyFor(16));
    assertEquals(o, CollectorOptions.builder().build());
  }

  @Test
  void everySetterSetsItsSetting_andToBuilderRoundTrips() {
    CollectorOptions o = allChanged();
    assertEquals("orders", o.name());
    assertEquals(64, o.depth());
    assertEquals(AckOrdering.STRICT, o.ackOrdering());
    assertEquals(Duration.ofSeconds(5), o.drainTimeout());
    assertEquals(Duration.ofSeconds(7), o.batchTimeout());
    assertEquals(Duration.ZERO, o.stuckThreshold());
    assertEquals(4, o.fetchRetry().maxAttempts());
    assertEquals(5, o.commitRetry().maxAttempts());
    assertEquals(8, o.concurrency());
    assertEquals(8, o.concurrencyFor(64));
    assertEquals(Duration.ofMillis(250), o.commitInterval());
    assertEquals(o, o.toBuilder().build());
    assertEquals(CollectorOptions.defaults(), CollectorOptions.defaults().toBuilder().build());
    assertEquals(32, o.toBuilder().depth(32).build().depth());
    assertEquals("orders", o.toBuilder().depth(32).build().name());
  }

  @Test
  void equalsAndHashCode_compareEverySetting() {
    CollectorOptions o = allChanged();
    assertEquals(o, allChanged());
    assertEquals(o.hashCode(), allChanged().hashCode());
    assertNotEquals(o, null);
    assertNotEquals(o, "orders");
    CollectorOptions.Builder b = o.toBuilder();
    assertNotEquals(o, b.name("other").build());
    assertNotEquals(o, o.toBuilder().depth(65).build());
    assertNotEquals(o, o.toBuilder().ackOrdering(AckOrdering.BUFFERED).build());
    assertNotEquals(o, o.toBuilder().drainTimeout(Duration.ZERO).build());
    assertNotEquals(o, o.toBuilder().failurePolicy(FailurePolicy.failFast()).build());
    assertNotEquals(o, o.toBuilder().batchTimeout(Duration.ZERO).build());
    assertNotEquals(o, o.toBuilder().stuckThreshold(Duration.ofSeconds(1)).build());
    assertNotEquals(o, o.toBuilder().fetchRetry(Retry.NONE).build());
    assertNotEquals(o, o.toBuilder().commitRetry(Retry.NONE).build());
    assertNotEquals(o, o.toBuilder().concurrency(9).build());
    assertNotEquals(o, o.toBuilder().commitInterval(Duration.ZERO).build());
    assertNotEquals(o, o.toBuilder().handlerContext((batch, attempt) -> attempt.run()).build());
  }

  @Test
  void toString_namesEverySetting() {
    String s = CollectorOptions.defaults().toString();
    assertEquals(
        "CollectorOptions[name=collector, depth=16, ackOrdering=BUFFERED, drainTimeout=PT30S,"
            + " failurePolicy="
            + FailurePolicy.failFast()
            + ", batchTimeout=PT0S,"
            + " stuckThreshold=PT1M, fetchRetry="
            + CollectorOptions.defaults().fetchRetry()
            + ", commitRetry="
            + CollectorOptions.defaults().commitRetry()
            + ", concurrency=0, commitInterval=PT0S, handlerContext=NONE]",
        s);
  }

  @Test
  void validation_namesTheSettingAndTheValue() {
    assertMessage(
        "name must be 1 to 64 letters, digits, '.', '_' or '-', was \"a b\"",
        CollectorOptions.builder().name("a b"));
    assertMessage(
        "depth must be between 1 and 1048576 (CollectorOptions.MAX_DEPTH), was 0",
        CollectorOptions.builder().depth(0));
    assertMessage(
        "depth must be between 1 and 1048576 (CollectorOptions.MAX_DEPTH), was 1048577",
        CollectorOptions.builder().depth(CollectorOptions.MAX_DEPTH + 1));
    assertMessage(
        "drainTimeout must be >= 0, was PT-1S",
        CollectorOptions.builder().drainTimeout(Duration.ofSeconds(-1)));
    assertMessage(
        "batchTimeout must be >= 0, was PT-1S",
        CollectorOptions.builder().batchTimeout(Duration.ofSeconds(-1)));
    assertMessage(
        "stuckThreshold must be >= 0, was PT-1S",
        CollectorOptions.builder().stuckThreshold(Duration.ofSeconds(-1)));
    assertMessage(
        "commitInterval must be >= 0, was PT-1S",
        CollectorOptions.builder().commitInterval(Duration.ofSeconds(-1)));
    assertMessage(
        "concurrency must be between 1 and 1048576, or 0 for the depth, was -1",
        CollectorOptions.builder().concurrency(-1));
    assertMessage(
        "concurrency must be between 1 and 1048576, or 0 for the depth, was 1048577",
        CollectorOptions.builder().concurrency(CollectorOptions.MAX_DEPTH + 1));
  }

  @Test
  @SuppressWarnings("NullAway")
  void nulls_areRejectedNamingTheSetting() {
    assertNull("name", CollectorOptions.builder().name(null));
    assertNull("ackOrdering", CollectorOptions.builder().ackOrdering(null));
    assertNull("drainTimeout", CollectorOptions.builder().drainTimeout(null));
    assertNull("failurePolicy", CollectorOptions.builder().failurePolicy(null));
    assertNull("batchTimeout", CollectorOptions.builder().batchTimeout(null));
    assertNull("stuckThreshold", CollectorOptions.builder().stuckThreshold(null));
    assertNull("fetchRetry", CollectorOptions.builder().fetchRetry(null));
    assertNull("commitRetry", CollectorOptions.builder().commitRetry(null));
    assertNull("commitInterval", CollectorOptions.builder().commitInterval(null));
    assertNull("handlerContext", CollectorOptions.builder().handlerContext(null));
  }

  private static void assertMessage(String message, CollectorOptions.Builder builder) {
    assertEquals(
        message, assertThrows(IllegalArgumentException.class, builder::build).getMessage());
  }

  private static void assertNull(String message, CollectorOptions.Builder builder) {
    assertEquals(message, assertThrows(NullPointerException.class, builder::build).getMessage());
  }
}
