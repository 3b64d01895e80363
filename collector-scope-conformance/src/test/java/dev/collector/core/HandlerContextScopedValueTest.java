package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.HandlerContext;
import dev.collector.Retry;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@link HandlerContext} example for JDK 25: a {@link ScopedValue} bound around every handler
 * attempt. Lives here because this is the module that compiles and runs on JDK 25 (ScopedValue is
 * final there, JEP 506); the library itself targets 21 and needs nothing of it.
 */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class HandlerContextScopedValueTest {

  /** Which batch and attempt the current handler works on; unbound outside a handler. */
  static final ScopedValue<String> BATCH = ScopedValue.newInstance();

  @Test
  void scopedValueBoundAroundEveryAttempt_retriesToo_unboundAfterwards() throws Exception {
    Set<String> seen = new ConcurrentSkipListSet<>();
    HandlerContext bind =
        (batch, attempt) ->
            ScopedValue.where(BATCH, batch.sequence() + "/" + batch.attempt())
                .call(
                    () -> {
                      attempt.run();
                      return null;
                    });
    CheckpointStore store = Collecting.inMemoryStore();
    List<List<Long>> batches = LongStream.range(0, 3).mapToObj(List::of).toList();
    CollectorOptions options =
        CollectorOptions.builder()
            .handlerContext(bind)
            .failurePolicy(FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO)))
            .build();
    try (Collector<Long> c = Collecting.open(Collecting.listSource(batches), store, options)) {
      c.process(
          2,
          batch -> {
            seen.add(BATCH.get());
            if (batch.sequence() == 1 && batch.attempt() == 1) {
              throw new IllegalStateException("first attempt of batch 1 fails");
            }
          });
    }
    assertEquals(new TreeSet<>(List.of("0/1", "1/1", "1/2", "2/1")), seen);
    assertFalse(BATCH.isBound());
    assertEquals(new Checkpoint(3, "3"), store.load());
  }
}
