package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProgressTest {

  private static Progress.Builder example() {
    return Progress.builder()
        .fetched(120)
        .acknowledged(100)
        .committed(96)
        .inFlight(24)
        .running(20)
        .waiting(3)
        .capacity(64)
        .oldestRunning(Duration.ofMillis(1234))
        .stuck(0);
  }

  @Test
  void builderDefaults_areAllZero() {
    Progress p = Progress.builder().build();
    assertEquals(0, p.fetched());
    assertEquals(0, p.acknowledged());
    assertEquals(0, p.committed());
    assertEquals(0, p.inFlight());
    assertEquals(0, p.running());
    assertEquals(0, p.waiting());
    assertEquals(0, p.capacity());
    assertEquals(Duration.ZERO, p.oldestRunning());
    assertEquals(0, p.stuck());
  }

  @Test
  void accessorsReturnWhatWasSet() {
    Progress p = example().stuck(2).build();
    assertEquals(120, p.fetched());
    assertEquals(100, p.acknowledged());
    assertEquals(96, p.committed());
    assertEquals(24, p.inFlight());
    assertEquals(20, p.running());
    assertEquals(3, p.waiting());
    assertEquals(64, p.capacity());
    assertEquals(Duration.ofMillis(1234), p.oldestRunning());
    assertEquals(2, p.stuck());
  }

  @Test
  void toString_formatIsUnchanged() {
    assertEquals(
        "fetched=120 acked=100 committed=96 inFlight=24/64 running=20 waiting=3 oldest=1.2s",
        example().build().toString());
    assertEquals(
        "fetched=120 acked=100 committed=96 inFlight=24/64 running=20 waiting=3 oldest=1.2s"
            + " stuck=2",
        example().stuck(2).build().toString());
    assertEquals(
        "fetched=0 acked=0 committed=0 inFlight=0/0 running=0 waiting=0 oldest=0.0s",
        Progress.builder().build().toString());
  }

  @Test
  void equalsAndHashCode_compareEveryFigure() {
    Progress p = example().build();
    assertEquals(p, example().build());
    assertEquals(p.hashCode(), example().build().hashCode());
    assertNotEquals(p, null);
    assertNotEquals(p, p.toString());
    assertNotEquals(p, example().fetched(121).build());
    assertNotEquals(p, example().acknowledged(101).build());
    assertNotEquals(p, example().committed(95).build());
    assertNotEquals(p, example().inFlight(25).build());
    assertNotEquals(p, example().running(21).build());
    assertNotEquals(p, example().waiting(4).build());
    assertNotEquals(p, example().capacity(65).build());
    assertNotEquals(p, example().oldestRunning(Duration.ZERO).build());
    assertNotEquals(p, example().stuck(1).build());
  }

  @Test
  void positionsOutOfOrder_areRejected() {
    assertMessage(
        "positions must satisfy 0 <= committed <= acknowledged <= fetched, were committed=101"
            + " acknowledged=100 fetched=120",
        example().committed(101));
    assertMessage(
        "positions must satisfy 0 <= committed <= acknowledged <= fetched, were committed=96"
            + " acknowledged=121 fetched=120",
        example().acknowledged(121));
    assertMessage(
        "positions must satisfy 0 <= committed <= acknowledged <= fetched, were committed=-1"
            + " acknowledged=0 fetched=0",
        Progress.builder().committed(-1));
  }

  @Test
  @SuppressWarnings("NullAway")
  void negativeFigures_andNullAge_areRejected() {
    assertMessage("inFlight must be >= 0, was -1", example().inFlight(-1));
    assertMessage("running must be >= 0, was -1", example().running(-1));
    assertMessage("waiting must be >= 0, was -1", example().waiting(-1));
    assertMessage("capacity must be >= 0, was -1", example().capacity(-1));
    assertMessage("stuck must be >= 0, was -1", example().stuck(-1));
    assertMessage(
        "oldestRunning must be >= 0, was PT-1S", example().oldestRunning(Duration.ofSeconds(-1)));
    assertEquals(
        "oldestRunning",
        assertThrows(NullPointerException.class, example().oldestRunning(null)::build)
            .getMessage());
  }

  private static void assertMessage(String message, Progress.Builder builder) {
    assertEquals(
        message, assertThrows(IllegalArgumentException.class, builder::build).getMessage());
  }
}
