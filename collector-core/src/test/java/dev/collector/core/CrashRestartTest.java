package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * G1, G2 and G3 across in-process crashes, with the testkit's crash harness: the store freezes
 * what is durable at seeded-random checkpoints, as a killed process would, and a new collector
 * on the same store carries on. Rerun with {@code -Dcollector.seed=N}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CrashRestartTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());

  @ParameterizedTest(name = "depth {0}")
  @ValueSource(ints = {1, 2, 16, 64})
  void crashesAtRandomCheckpoints_everythingHandled_commitsInOrder_replayAtMostDepth(int depth)
      throws Exception {
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(2_000, 3), Collecting::open)
            .depth(depth)
            .crashes(10)
            .seed(SEED ^ depth)
            .run(batch -> {});
    ledger.assertAll(depth);
    assertEquals(10, ledger.crashes(), ledger.summary());
    assertTrue(ledger.handled() >= 2_000, ledger.summary());
  }

  @Test
  void ledger_replayBeyondDepth_failsNamingTheSeed() throws Exception {
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(300, 1), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(7)
            .run(batch -> {});
    // Checked against a smaller depth than the run used, the replay bound must trip.
    var e = assertThrows(AssertionError.class, () -> ledger.assertReplayAtMost(0));
    assertTrue(e.getMessage().contains("seed 7"), e.getMessage());
  }
}
