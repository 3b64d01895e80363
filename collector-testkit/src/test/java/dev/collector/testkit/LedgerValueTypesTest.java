package dev.collector.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.collector.Checkpoint;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link Ledger.Run} and {@link Ledger.FailedAttempt}: final classes since ADR 0008. */
class LedgerValueTypesTest {

  private static Ledger.FailedAttempt failed() {
    return new Ledger.FailedAttempt(3, 2, true, "java.io.IOException: boom");
  }

  @Test
  void failedAttempt_accessorsEqualsHashCodeToString() {
    Ledger.FailedAttempt f = failed();
    assertEquals(3, f.sequence());
    assertEquals(2, f.attempt());
    assertEquals(true, f.replay());
    assertEquals("java.io.IOException: boom", f.failure());
    assertEquals(f, failed());
    assertEquals(f.hashCode(), failed().hashCode());
    assertNotEquals(f, null);
    assertNotEquals(f, new Ledger.FailedAttempt(4, 2, true, "java.io.IOException: boom"));
    assertNotEquals(f, new Ledger.FailedAttempt(3, 1, true, "java.io.IOException: boom"));
    assertNotEquals(f, new Ledger.FailedAttempt(3, 2, false, "java.io.IOException: boom"));
    assertNotEquals(f, new Ledger.FailedAttempt(3, 2, true, "java.io.IOException: other"));
    assertEquals(
        "FailedAttempt[sequence=3, attempt=2, replay=true, failure=java.io.IOException: boom]",
        f.toString());
    assertThrows(NullPointerException.class, () -> new Ledger.FailedAttempt(0, 1, false, null));
  }

  private static Ledger.Run<String> run(int number, boolean crashed) {
    return new Ledger.Run<>(
        number,
        new Checkpoint(1, "a"),
        new Checkpoint(2, "b"),
        crashed,
        List.of(2L, 1L, 3L),
        Map.of(1L, List.of("x"), 2L, List.of("y"), 3L, List.of("z")),
        Set.of(1L),
        List.of(failed()));
  }

  @Test
  void run_accessorsAndLeftUncommitted() {
    Ledger.Run<String> r = run(0, true);
    assertEquals(0, r.number());
    assertEquals(new Checkpoint(1, "a"), r.start());
    assertEquals(new Checkpoint(2, "b"), r.end());
    assertEquals(true, r.crashed());
    assertEquals(List.of(2L, 1L, 3L), r.completed());
    assertEquals(List.of(1L, 2L, 3L), List.copyOf(r.records().keySet()), "in sequence order");
    assertEquals(Set.of(1L), r.replayed());
    assertEquals(List.of(failed()), r.failedAttempts());
    assertEquals(2, r.leftUncommitted(), "batches 2 and 3 are at or after the end checkpoint 2");
  }

  @Test
  void run_copiesItsCollections_andTheyAreUnmodifiable() {
    List<Long> completed = new ArrayList<>(List.of(1L));
    Map<Long, List<String>> records = new HashMap<>(Map.of(1L, List.of("x")));
    Set<Long> replayed = new HashSet<>();
    List<Ledger.FailedAttempt> attempts = new ArrayList<>();
    Ledger.Run<String> r =
        new Ledger.Run<>(
            0,
            Checkpoint.INITIAL,
            Checkpoint.INITIAL,
            false,
            completed,
            records,
            replayed,
            attempts);
    completed.add(2L);
    records.put(2L, List.of("y"));
    replayed.add(1L);
    attempts.add(failed());
    assertEquals(List.of(1L), r.completed());
    assertEquals(Map.of(1L, List.of("x")), r.records());
    assertEquals(Set.of(), r.replayed());
    assertEquals(List.of(), r.failedAttempts());
    assertThrows(UnsupportedOperationException.class, () -> r.completed().add(3L));
    assertThrows(UnsupportedOperationException.class, () -> r.records().clear());
    assertThrows(UnsupportedOperationException.class, () -> r.replayed().add(3L));
    assertThrows(UnsupportedOperationException.class, () -> r.failedAttempts().clear());
  }

  @Test
  void run_equalsAndHashCode_compareEveryField() {
    Ledger.Run<String> r = run(0, true);
    assertEquals(r, run(0, true));
    assertEquals(r.hashCode(), run(0, true).hashCode());
    assertNotEquals(r, null);
    assertNotEquals(r, run(1, true));
    assertNotEquals(r, run(0, false));
    Checkpoint a = new Checkpoint(1, "a");
    Checkpoint b = new Checkpoint(2, "b");
    Map<Long, List<String>> rec = Map.of(1L, List.of("x"), 2L, List.of("y"), 3L, List.of("z"));
    List<Long> done = List.of(2L, 1L, 3L);
    List<Ledger.FailedAttempt> f = List.of(failed());
    assertEquals(r, new Ledger.Run<>(0, a, b, true, done, rec, Set.of(1L), f));
    assertNotEquals(r, new Ledger.Run<>(0, b, b, true, done, rec, Set.of(1L), f));
    assertNotEquals(r, new Ledger.Run<>(0, a, a, true, done, rec, Set.of(1L), f));
    assertNotEquals(r, new Ledger.Run<>(0, a, b, true, List.of(1L, 2L, 3L), rec, Set.of(1L), f));
    assertNotEquals(
        r, new Ledger.Run<>(0, a, b, true, done, Map.of(1L, List.of("x")), Set.of(1L), f));
    assertNotEquals(r, new Ledger.Run<>(0, a, b, true, done, rec, Set.of(2L), f));
    assertNotEquals(r, new Ledger.Run<>(0, a, b, true, done, rec, Set.of(1L), List.of()));
  }

  @Test
  void run_toString_recordFormat() {
    assertEquals(
        "Run[number=0, start=Checkpoint[sequence=1, resumeToken=a],"
            + " end=Checkpoint[sequence=2, resumeToken=b], crashed=true, completed=[2, 1, 3],"
            + " records={1=[x], 2=[y], 3=[z]}, replayed=[1], failedAttempts=["
            + failed()
            + "]]",
        run(0, true).toString());
  }
}
