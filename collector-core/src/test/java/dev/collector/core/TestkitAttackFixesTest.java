package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.Retry;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CollectorRun;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The rules behind the fixes of the five testkit attack defects, checked beyond the attacks. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TestkitAttackFixesTest {

  @Test
  void seedProperty_trailingL_accepted_garbage_refusedNamingPropertyAndValue() throws Exception {
    String old = System.getProperty(CrashHarness.SEED_PROPERTY);
    try {
      System.setProperty(CrashHarness.SEED_PROPERTY, "-17l");
      assertEquals(
          -17,
          CrashHarness.over(FakeSource.generated(3, 1), Collecting::open)
              .crashes(1)
              .run(b -> {})
              .seed());
      for (String bad : List.of("4x2", "L", "", "42LL", "0x2A")) {
        System.setProperty(CrashHarness.SEED_PROPERTY, bad);
        IllegalArgumentException e =
            assertThrows(
                IllegalArgumentException.class,
                () -> CrashHarness.over(FakeSource.generated(3, 1), Collecting::open),
                bad);
        assertTrue(
            e.getMessage().contains(CrashHarness.SEED_PROPERTY)
                && e.getMessage().contains("=" + bad + " "),
            e.getMessage());
      }
    } finally {
      if (old == null) {
        System.clearProperty(CrashHarness.SEED_PROPERTY);
      } else {
        System.setProperty(CrashHarness.SEED_PROPERTY, old);
      }
    }
  }

  @Test
  void deadLetteredBatch_listedInLedgerAndSummary_missingRecordsNameIt() throws Exception {
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(12, 2), Collecting::open)
            .depth(3)
            .crashes(3)
            .seed(5)
            .options(
                CollectorOptions.defaults().toBuilder()
                    .failurePolicy(
                        FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                            .thenDeadLetter((b, c) -> {}))
                    .build())
            .run(
                b -> {
                  if (b.sequence() == 4) {
                    throw new IOException("poison");
                  }
                });
    ledger.assertReachedEnd();
    ledger.assertCommitsInOrder();
    ledger.assertReplayAtMost(ledger.depth());
    assertEquals(Set.of(4L), ledger.deadLettered());
    assertTrue(ledger.summary().contains("dead-lettered [4]"), ledger.summary());
    AssertionError e = assertThrows(AssertionError.class, ledger::assertEveryRecordHandled);
    assertTrue(
        e.getMessage().contains("batch 4") && e.getMessage().contains("dead-lettered"),
        e.getMessage());
  }

  @Test
  void runFailure_namesTheBatchThatFailedForGood() {
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(FakeSource.generated(10, 1), Collecting::open)
                    .crashes(0)
                    .seed(8)
                    .depth(2)
                    .options(
                        CollectorOptions.defaults().toBuilder()
                            .failurePolicy(
                                FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO)))
                            .build())
                    .run(
                        b -> {
                          if (b.sequence() == 1 && b.attempt() == 1) {
                            throw new IOException("transient");
                          }
                          if (b.sequence() == 5) {
                            throw new IOException("for good");
                          }
                        }));
    assertTrue(
        e.getMessage().contains("the handler failed on batch 5 (attempt 2)"), e.getMessage());
    assertFalse(e.getMessage().contains("batch 1 "), e.getMessage());
  }

  /** Two overlapping tests, one leaks: neither fails alone, the last to end reports it once. */
  @Test
  void leakCheck_overlappingTests_lastOfTheGroupReportsOnceNamingAll() throws Exception {
    var check = new CollectorLeakCheck();
    Map<Object, Object> store = new ConcurrentHashMap<>();
    ExtensionContext first = context("first", store);
    ExtensionContext second = context("second", store);
    var controller = new CompletionController<Long>();
    Collector<Long> collector =
        Collecting.open(
            FakeSource.generated(10, 1), Collecting.inMemoryStore(), CollectorOptions.defaults());
    CollectorRun run = null;
    try {
      check.beforeEach(first);
      check.beforeEach(second);
      run = CollectorRun.start(collector, 2, controller); // one of them leaks this
      controller.awaitStartedCount(2, Duration.ofSeconds(10));
      check.afterEach(first); // the other one still runs: not blamed alone
      AssertionError e = assertThrows(AssertionError.class, () -> check.afterEach(second));
      assertTrue(e.getMessage().contains("[first, second]"), e.getMessage());
      ExtensionContext later = context("later", store);
      check.beforeEach(later);
      check.afterEach(later); // a new test, alone: the old leak is not its own
    } finally {
      if (run != null) {
        run.close();
      } else {
        collector.close();
      }
    }
  }

  private static ExtensionContext context(String id, Map<Object, Object> store) {
    Object storeProxy =
        Proxy.newProxyInstance(
            ExtensionContext.Store.class.getClassLoader(),
            new Class<?>[] {ExtensionContext.Store.class},
            (p, m, args) ->
                switch (m.getName()) {
                  case "put" -> store.put(args[0], args[1]);
                  case "remove" -> store.remove(args[0]);
                  case "get" -> store.get(args[0]);
                  default -> throw new UnsupportedOperationException(m.getName());
                });
    return (ExtensionContext)
        Proxy.newProxyInstance(
            ExtensionContext.class.getClassLoader(),
            new Class<?>[] {ExtensionContext.class},
            (p, m, args) ->
                switch (m.getName()) {
                  case "getUniqueId" -> id;
                  case "getDisplayName" -> id;
                  case "getStore" -> storeProxy;
                  default -> throw new UnsupportedOperationException(m.getName());
                });
  }
}
