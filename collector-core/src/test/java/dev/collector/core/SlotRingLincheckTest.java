package dev.collector.core;

import dev.collector.Checkpoint;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model checks {@link SlotRing}: Lincheck runs every generated scenario under many thread
 * interleavings (its model-checking mode, which switches threads at each shared read, write and
 * CAS) and checks, after each operation and at the end, the ring's invariants.
 *
 * <p>The frontier is not linearizable as a register (a reader may see a settle that is only half
 * done: the frontier moved past s but not yet past s+1 that another thread settled before), so the
 * operations do not return positions; they return {@code "ok"} or a description of the invariant
 * they saw broken, and the sequential specification (this class run sequentially) always says
 * {@code "ok"}. What is checked:
 *
 * <ul>
 *   <li>after any operation, {@code committed <= acked <= fetched}, and acked never passes a
 *       sequence whose settle was not called (the test marks a sequence before settling it);
 *   <li>at the end of each scenario, when every settle returned: acked is exactly the settled
 *       contiguous prefix (no lost advance, e.g. A settles s+1 while B moves the frontier to s+1),
 *       and committed, acked and fetched are in order.
 * </ul>
 *
 * <p>Roles as in a run: one fetcher thread adds ({@code nonParallelGroup}), one committer commits
 * up to the frontier, and each sequence is settled once ({@code runOnce}), from any thread. The
 * depth (2) is below the number of sequences (4), so slots are reused once the committer freed
 * them: the sequence tag of a slot's state is exercised too.
 */
@Tag("lincheck")
class SlotRingLincheckTest {

  @Test
  void modelCheck() {
    new ModelCheckingOptions()
        .iterations(15)
        .invocationsPerIteration(1_000)
        .threads(3)
        .actorsPerThread(3)
        .actorsBefore(2)
        .actorsAfter(1)
        .check(Ring.class);
  }

  /**
   * The state Lincheck creates afresh for each scenario run, and its operations. Public (as
   * Lincheck's generated runners call the operations directly) and nested in the package-private
   * test, so it is no API of the module.
   */
  public static final class Ring {

    static final int DEPTH = 2;
    static final int SEQUENCES = 4;

    private final SlotRing ring = new SlotRing(DEPTH, Checkpoint.INITIAL);

    /** Test-side record: 1 once settle(s) was called for s (set before the ring sees it). */
    private final AtomicIntegerArray settleCalled = new AtomicIntegerArray(SEQUENCES);

    /** The fetcher: adds the next batch if the ring has room and the test has one left. */
    @Operation(nonParallelGroup = "fetcher")
    public String add() {
      if (ring.fetched() < SEQUENCES && ring.hasRoom()) {
        long s = ring.add("t" + (ring.fetched() + 1), 1);
        if (s >= SEQUENCES) {
          return "add returned sequence " + s;
        }
      }
      return check();
    }

    /** The committer: commits up to the frontier, as the run's committer does. */
    @Operation(nonParallelGroup = "committer")
    public String commit() {
      long target = ring.acked();
      if (target > ring.committed()) {
        ring.committed(ring.checkpointAt(target));
      }
      return check();
    }

    @Operation(runOnce = true)
    public String settle0() {
      return settle(0);
    }

    @Operation(runOnce = true)
    public String settle1() {
      return settle(1);
    }

    @Operation(runOnce = true)
    public String settle2() {
      return settle(2);
    }

    @Operation(runOnce = true)
    public String settle3() {
      return settle(3);
    }

    /** Settles {@code s} if it was fetched (a handler only ever settles a fetched batch). */
    private String settle(int s) {
      if (s < ring.fetched()) { // fetched only grows: still true when settling
        settleCalled.set(s, 1);
        ring.settle(s);
      }
      return check();
    }

    @Operation
    public String positions() {
      return check();
    }

    /** The invariants that hold at every moment; read in the order that keeps them stable. */
    private String check() {
      long c = ring.committed();
      long a = ring.acked();
      long f = ring.fetched();
      if (c > a || a > f) {
        return "committed " + c + ", acked " + a + ", fetched " + f;
      }
      for (int s = 0; s < a; s++) {
        if (settleCalled.get(s) == 0) {
          return "acked " + a + " passed unsettled " + s;
        }
      }
      return "ok";
    }

    /** At the end of the scenario (every call returned): acked is the settled prefix. */
    @Validate
    public void noLostAdvance() {
      int prefix = 0;
      while (prefix < SEQUENCES && settleCalled.get(prefix) == 1) {
        prefix++;
      }
      long acked = ring.acked();
      if (acked != prefix) {
        throw new AssertionError(
            "lost advance: sequences 0.." + (prefix - 1) + " settled, acked " + acked);
      }
      String broken = check();
      if (!broken.equals("ok")) {
        throw new AssertionError(broken);
      }
    }
  }
}
