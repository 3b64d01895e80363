package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProcessSummaryTest {

  private static ProcessSummary.Builder example() {
    return ProcessSummary.builder()
        .batches(10)
        .records(1000)
        .commits(4)
        .duration(Duration.ofSeconds(2))
        .stopped(true)
        .uncommitted(3)
        .deadLettered(1)
        .checkpoint(new Checkpoint(10, "offset-10"));
  }

  @Test
  void builderDefaults() {
    ProcessSummary s = ProcessSummary.builder().build();
    assertEquals(0, s.batches());
    assertEquals(0, s.records());
    assertEquals(0, s.commits());
    assertEquals(Duration.ZERO, s.duration());
    assertFalse(s.stopped());
    assertEquals(0, s.uncommitted());
    assertEquals(0, s.deadLettered());
    assertEquals(Checkpoint.INITIAL, s.checkpoint());
  }

  @Test
  void accessorsReturnWhatWasSet() {
    ProcessSummary s = example().build();
    assertEquals(10, s.batches());
    assertEquals(1000, s.records());
    assertEquals(4, s.commits());
    assertEquals(Duration.ofSeconds(2), s.duration());
    assertTrue(s.stopped());
    assertEquals(3, s.uncommitted());
    assertEquals(1, s.deadLettered());
    assertEquals(new Checkpoint(10, "offset-10"), s.checkpoint());
    assertEquals(
        "ProcessSummary[batches=10, records=1000, commits=4, duration=PT2S, stopped=true,"
            + " uncommitted=3, deadLettered=1, checkpoint=Checkpoint[sequence=10,"
            + " resumeToken=offset-10]]",
        s.toString());
  }

  @Test
  void equalsAndHashCode_compareEveryFigure() {
    ProcessSummary s = example().build();
    assertEquals(s, example().build());
    assertEquals(s.hashCode(), example().build().hashCode());
    assertNotEquals(s, null);
    assertNotEquals(s, s.toString());
    assertNotEquals(s, example().batches(11).build());
    assertNotEquals(s, example().records(1001).build());
    assertNotEquals(s, example().commits(5).build());
    assertNotEquals(s, example().duration(Duration.ZERO).build());
    assertNotEquals(s, example().stopped(false).build());
    assertNotEquals(s, example().uncommitted(0).build());
    assertNotEquals(s, example().deadLettered(0).build());
    assertNotEquals(s, example().checkpoint(Checkpoint.INITIAL).build());
  }

  @Test
  @SuppressWarnings("NullAway")
  void nulls_areRejectedNamingTheFigure() {
    assertEquals(
        "duration",
        assertThrows(NullPointerException.class, example().duration(null)::build).getMessage());
    assertEquals(
        "checkpoint",
        assertThrows(NullPointerException.class, example().checkpoint(null)::build).getMessage());
  }
}
