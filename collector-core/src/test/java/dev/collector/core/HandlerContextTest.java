package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AttemptNotRunException;
import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.HandlerContext;
import dev.collector.ReentrantCallException;
import dev.collector.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link HandlerContext}: every sentence of its javadoc, and the MDC-like example. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HandlerContextTest {

  /** Stands in for an MDC: a per-thread map of diagnostic context. */
  static final ThreadLocal<@Nullable String> MDC = new ThreadLocal<>();

  private final CheckpointStore store = Collecting.inMemoryStore();

  private Collector<Long> collector(int batches, CollectorOptions.Builder options) {
    List<List<Long>> list = LongStream.range(0, batches).mapToObj(List::of).toList();
    return Collecting.open(Collecting.listSource(list), store, options.build());
  }

  private static FailurePolicy retries(int attempts) {
    return FailurePolicy.retry(Retry.of(attempts, Duration.ZERO, Duration.ZERO));
  }

  @Test
  void defaultIsNone_andToBuilderKeepsTheHook() {
    assertSame(HandlerContext.NONE, CollectorOptions.defaults().handlerContext());
    HandlerContext hook = (batch, attempt) -> attempt.run();
    CollectorOptions options = CollectorOptions.builder().handlerContext(hook).build();
    assertSame(hook, options.toBuilder().build().handlerContext());
  }

  @Test
  void mdcExample_setAndClearedAroundEveryAttempt_retriesToo_onTheHandlersThread()
      throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    List<String> leftBehind = new CopyOnWriteArrayList<>();
    AtomicInteger failures = new AtomicInteger();
    HandlerContext mdc =
        (batch, attempt) -> {
          MDC.set(
              "batch="
                  + batch.sequence()
                  + " attempt="
                  + batch.attempt()
                  + " thread="
                  + Thread.currentThread().threadId());
          try {
            attempt.run();
          } finally {
            MDC.remove();
            if (MDC.get() != null) {
              leftBehind.add("batch " + batch.sequence());
            }
          }
        };
    try (Collector<Long> c =
        collector(4, CollectorOptions.builder().handlerContext(mdc).failurePolicy(retries(2)))) {
      c.process(
          2,
          batch -> {
            seen.add(
                MDC.get()
                    + " handler-thread="
                    + Thread.currentThread().threadId()
                    + " virtual="
                    + Thread.currentThread().isVirtual());
            if (batch.sequence() == 1 && batch.attempt() == 1) {
              failures.incrementAndGet();
              throw new IllegalStateException("first attempt of batch 1 fails");
            }
          });
    }
    assertEquals(1, failures.get());
    assertEquals(5, seen.size(), seen.toString()); // 4 batches, batch 1 twice
    for (String s : seen) {
      String thread = s.substring(s.indexOf(" thread=") + 8, s.indexOf(" handler-thread="));
      String handlerThread = s.substring(s.indexOf("handler-thread=") + 15, s.indexOf(" virtual"));
      assertEquals(thread, handlerThread, "the hook runs on the handler's thread: " + s);
      assertTrue(s.endsWith("virtual=true"), s);
    }
    assertTrue(seen.stream().anyMatch(s -> s.startsWith("batch=1 attempt=1 ")), seen.toString());
    assertTrue(seen.stream().anyMatch(s -> s.startsWith("batch=1 attempt=2 ")), seen.toString());
    assertEquals(List.of(), leftBehind);
    assertEquals(new Checkpoint(4, "4"), store.load());
  }

  @Test
  void hookThrowsBeforeTheAttempt_failsLikeTheHandler_failurePolicyRetries() throws Exception {
    AtomicInteger handled = new AtomicInteger();
    HandlerContext hook =
        (batch, attempt) -> {
          if (batch.attempt() == 1) {
            throw new IllegalStateException("span exporter down");
          }
          attempt.run();
        };
    try (Collector<Long> c =
        collector(3, CollectorOptions.builder().handlerContext(hook).failurePolicy(retries(2)))) {
      c.process(1, batch -> handled.incrementAndGet());
    }
    assertEquals(3, handled.get());
    assertEquals(new Checkpoint(3, "3"), store.load());
  }

  @Test
  void hookThrowsAfterASuccessfulAttempt_attemptFails_failFastEndsTheRunWithTheHooksException()
      throws Exception {
    var hookFailure = new IllegalStateException("closing the span failed");
    AtomicInteger handled = new AtomicInteger();
    HandlerContext hook =
        (batch, attempt) -> {
          attempt.run();
          if (batch.sequence() == 1) {
            throw hookFailure;
          }
        };
    try (Collector<Long> c = collector(3, CollectorOptions.builder().handlerContext(hook))) {
      var e =
          assertThrows(
              BatchFailedException.class, () -> c.process(1, batch -> handled.incrementAndGet()));
      assertEquals(1, e.sequence());
      assertSame(hookFailure, e.getCause());
    }
    assertEquals(2, handled.get());
    assertEquals(new Checkpoint(1, "1"), store.load());
  }

  @Test
  void handlerThrows_hookWrapsIt_theHandlersFailureDecides_hooksIsSuppressed() throws Exception {
    var handlerFailure = new IllegalArgumentException("bad record");
    HandlerContext hook =
        (batch, attempt) -> {
          try {
            attempt.run();
          } catch (Exception e) {
            throw new RuntimeException("wrapped by the hook", e);
          }
        };
    try (Collector<Long> c = collector(2, CollectorOptions.builder().handlerContext(hook))) {
      var e =
          assertThrows(
              BatchFailedException.class,
              () ->
                  c.process(
                      1,
                      batch -> {
                        throw handlerFailure;
                      }));
      assertSame(handlerFailure, e.getCause());
      assertEquals("wrapped by the hook", handlerFailure.getSuppressed()[0].getMessage());
    }
  }

  @Test
  void handlerThrows_hookSwallowsIt_theAttemptStillFails() throws Exception {
    var handlerFailure = new IllegalArgumentException("bad record");
    HandlerContext hook =
        (batch, attempt) -> {
          try {
            attempt.run();
          } catch (Exception swallowed) {
            // a hook that swallows does not turn a failed attempt into a success
          }
        };
    try (Collector<Long> c = collector(2, CollectorOptions.builder().handlerContext(hook))) {
      var e =
          assertThrows(
              BatchFailedException.class,
              () ->
                  c.process(
                      1,
                      batch -> {
                        throw handlerFailure;
                      }));
      assertSame(handlerFailure, e.getCause());
    }
    Checkpoint durable = store.load();
    assertTrue(durable == null || durable.sequence() == 0, "batch 0 failed: " + durable);
  }

  @Test
  void hookReturnsWithoutRunningTheAttempt_attemptNotRunException_namingTheBatch()
      throws Exception {
    AtomicInteger handled = new AtomicInteger();
    HandlerContext skipsBatch2 =
        (batch, attempt) -> {
          if (batch.sequence() != 2) {
            attempt.run();
          }
        };
    try (Collector<Long> c =
        collector(4, CollectorOptions.builder().name("skipper").handlerContext(skipsBatch2))) {
      var e =
          assertThrows(
              BatchFailedException.class, () -> c.process(1, batch -> handled.incrementAndGet()));
      assertEquals(2, e.sequence());
      var notRun = assertInstanceOf(AttemptNotRunException.class, e.getCause());
      assertEquals(2, notRun.sequence());
      assertTrue(
          notRun.getMessage().contains("batch 2")
              && notRun.getMessage().contains("'skipper'")
              && notRun.getMessage().contains("Call attempt.run() exactly once"),
          notRun.getMessage());
    }
    assertEquals(2, handled.get());
    assertEquals(new Checkpoint(2, "2"), store.load());
  }

  @Test
  void hookRunsTheAttemptTwice_illegalStateNamingTheBatch_handlerRanOnce() throws Exception {
    AtomicInteger handled = new AtomicInteger();
    HandlerContext twice =
        (batch, attempt) -> {
          attempt.run();
          attempt.run();
        };
    try (Collector<Long> c = collector(2, CollectorOptions.builder().handlerContext(twice))) {
      var e =
          assertThrows(
              BatchFailedException.class, () -> c.process(1, batch -> handled.incrementAndGet()));
      var twiceFailure = assertInstanceOf(IllegalStateException.class, e.getCause());
      assertTrue(
          twiceFailure.getMessage().contains("batch 0")
              && twiceFailure.getMessage().contains("second time"),
          twiceFailure.getMessage());
    }
    assertEquals(1, handled.get());
  }

  @Test
  void attemptRunOnAnotherThreadOrAfterTheHookReturned_illegalState() throws Exception {
    AtomicReference<@Nullable Throwable> otherThread = new AtomicReference<>();
    AtomicReference<HandlerContext.@Nullable Attempt> kept = new AtomicReference<>();
    AtomicInteger handled = new AtomicInteger();
    HandlerContext hook =
        (batch, attempt) -> {
          Thread t =
              Thread.ofVirtual()
                  .start(
                      () -> {
                        try {
                          attempt.run();
                        } catch (Throwable e) {
                          otherThread.set(e);
                        }
                      });
          t.join();
          attempt.run();
          kept.set(attempt);
        };
    try (Collector<Long> c = collector(1, CollectorOptions.builder().handlerContext(hook))) {
      c.process(1, batch -> handled.incrementAndGet());
    }
    assertEquals(1, handled.get());
    var e = assertInstanceOf(IllegalStateException.class, otherThread.get());
    assertTrue(
        e.getMessage().contains("batch 0") && e.getMessage().contains("another thread"),
        e.getMessage());
    HandlerContext.Attempt late = kept.get();
    var after = assertThrows(IllegalStateException.class, () -> late.run());
    assertTrue(after.getMessage().contains("batch 0"), after.getMessage());
    assertEquals(1, handled.get());
  }

  /** batchTimeout covers the hook: a hook that blocks is interrupted and the attempt times out. */
  @Test
  void batchTimeoutCoversTheHook_interruptReachesIt_timeoutOutcome() throws Exception {
    CountDownLatch never = new CountDownLatch(1);
    AtomicInteger handled = new AtomicInteger();
    List<CollectorListener.Outcome> outcomes = new CopyOnWriteArrayList<>();
    HandlerContext blocks =
        (batch, attempt) -> {
          never.await(); // e.g. a span exporter that hangs; answers the interrupt
          attempt.run();
        };
    try (Collector<Long> c =
        collector(
            1,
            CollectorOptions.builder()
                .handlerContext(blocks)
                .batchTimeout(Duration.ofMillis(100)))) {
      c.listen(
          new CollectorListener() {
            @Override
            public void handled(long sequence, int records, long nanos, Outcome outcome) {
              outcomes.add(outcome);
            }
          });
      var e =
          assertThrows(
              BatchFailedException.class, () -> c.process(1, batch -> handled.incrementAndGet()));
      assertInstanceOf(TimeoutException.class, e.getCause());
      assertInstanceOf(InterruptedException.class, e.getCause().getSuppressed()[0]);
    }
    assertEquals(0, handled.get());
    assertEquals(List.of(CollectorListener.Outcome.TIMEOUT), outcomes);
  }

  @Test
  void reentrantCallFromTheHook_isRejectedLikeFromTheHandler() throws Exception {
    AtomicReference<@Nullable Throwable> reentrant = new AtomicReference<>();
    AtomicReference<@Nullable Collector<Long>> self = new AtomicReference<>();
    HandlerContext hook =
        (batch, attempt) -> {
          try {
            self.get().next();
          } catch (ReentrantCallException e) {
            reentrant.set(e);
          }
          attempt.run();
        };
    try (Collector<Long> c = collector(1, CollectorOptions.builder().handlerContext(hook))) {
      self.set(c);
      c.process(1, batch -> {});
    }
    assertInstanceOf(ReentrantCallException.class, reentrant.get());
  }

  @Test
  void pullApi_runsNoHook() throws Exception {
    AtomicInteger hookCalls = new AtomicInteger();
    HandlerContext counting =
        (batch, attempt) -> {
          hookCalls.incrementAndGet();
          attempt.run();
        };
    try (Collector<Long> c = collector(3, CollectorOptions.builder().handlerContext(counting))) {
      Delivery<Long> d;
      while ((d = c.next()) != null) {
        assertNull(MDC.get());
        d.ack();
      }
      c.awaitCommitted();
    }
    assertEquals(0, hookCalls.get());
    assertEquals(new Checkpoint(3, "3"), store.load());
  }
}
