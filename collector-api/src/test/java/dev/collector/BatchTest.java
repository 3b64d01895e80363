package dev.collector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Batch}: a final class since ADR 0008, built by its factories. */
class BatchTest {

  private static Batch<String> example() {
    return Batch.of(7, List.of("a", "b"), "tok", 2);
  }

  @Test
  void fullFactory_accessors() {
    Batch<String> b = example();
    assertEquals(7, b.sequence());
    assertEquals(List.of("a", "b"), b.records());
    assertEquals("tok", b.resumeToken());
    assertEquals(2, b.attempt());
    assertEquals(2, b.size());
  }

  @Test
  void shortFactory_isTheFirstAttemptWithAnEmptyToken() {
    Batch<String> b = Batch.of(0, List.of("x"));
    assertEquals(0, b.sequence());
    assertEquals(List.of("x"), b.records());
    assertEquals("", b.resumeToken());
    assertEquals(1, b.attempt());
    assertEquals(Batch.of(0, List.of("x"), "", 1), b);
  }

  @Test
  void records_areCopiedAndUnmodifiable_anUnmodifiableListIsTakenAsItIs() {
    List<String> mutable = new ArrayList<>(List.of("a"));
    Batch<String> b = Batch.of(1, mutable);
    mutable.add("b");
    assertEquals(List.of("a"), b.records());
    assertThrows(UnsupportedOperationException.class, () -> b.records().add("c"));
    List<String> unmodifiable = List.of("a", "b");
    assertSame(unmodifiable, Batch.of(1, unmodifiable, "t", 1).records(), "no second copy");
  }

  @Test
  void nextAttempt_incrementsTheAttempt_sharesTheRecords() {
    Batch<String> b = example();
    Batch<String> next = b.nextAttempt();
    assertEquals(Batch.of(7, List.of("a", "b"), "tok", 3), next);
    assertSame(b.records(), next.records());
    assertEquals(2, b.attempt(), "the original is unchanged");
    assertEquals(
        "attempt must be >= 1, was -2147483648",
        assertThrows(
                IllegalArgumentException.class,
                () -> Batch.of(0, List.of(), "", Integer.MAX_VALUE).nextAttempt())
            .getMessage());
  }

  @Test
  void validation_messagesAsBefore() {
    assertEquals(
        "sequence must be >= 0, was -1",
        assertThrows(IllegalArgumentException.class, () -> Batch.of(-1, List.of())).getMessage());
    assertEquals(
        "attempt must be >= 1, was 0",
        assertThrows(IllegalArgumentException.class, () -> Batch.of(0, List.of(), "", 0))
            .getMessage());
    assertEquals(
        "resumeToken",
        assertThrows(NullPointerException.class, () -> Batch.of(0, List.of(), null, 1))
            .getMessage());
    assertEquals(
        "records", assertThrows(NullPointerException.class, () -> Batch.of(0, null)).getMessage());
    assertThrows(NullPointerException.class, () -> Batch.of(0, Arrays.asList("a", null)));
  }

  @Test
  void equalsAndHashCode_compareEveryComponent() {
    Batch<String> b = example();
    assertEquals(b, example());
    assertEquals(b.hashCode(), example().hashCode());
    assertEquals(b, Batch.of(7, new ArrayList<>(List.of("a", "b")), "tok", 2), "list equality");
    assertNotEquals(b, null);
    assertNotEquals(b, b.toString());
    assertNotEquals(b, Batch.of(8, List.of("a", "b"), "tok", 2));
    assertNotEquals(b, Batch.of(7, List.of("a"), "tok", 2));
    assertNotEquals(b, Batch.of(7, List.of("a", "b"), "tok2", 2));
    assertNotEquals(b, Batch.of(7, List.of("a", "b"), "tok", 1));
  }

  @Test
  void toString_recordFormat() {
    assertEquals(
        "Batch[sequence=7, records=[a, b], resumeToken=tok, attempt=2]", example().toString());
  }
}
