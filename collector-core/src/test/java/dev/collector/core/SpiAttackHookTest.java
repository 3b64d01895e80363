package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.AttemptNotRunException;
import dev.collector.BatchFailedException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.HandlerContext;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Hostile {@link HandlerContext} hooks, from the public javadoc and docs/contract.md only. */
class SpiAttackHookTest {

  final CheckpointStore store = Collecting.inMemoryStore();

  Collector<Long> collector(int batches, CollectorOptions.Builder options) {
    List<List<Long>> list = LongStream.range(0, batches).mapToObj(i -> List.of(i)).toList();
    return Collecting.open(Collecting.listSource(list), store, options.build());
  }

  static CollectorOptions.Builder hook(HandlerContext h) {
    return CollectorOptions.builder().handlerContext(h);
  }

  static FailurePolicy retries(int n) {
    return FailurePolicy.retry(Retry.of(n, Duration.ZERO, Duration.ZERO));
  }

  static final class Outcomes implements CollectorListener {
    final List<String> list = new CopyOnWriteArrayList<>();

    @Override
    public void handled(long s, int r, long n, Outcome o) {
      list.add(s + ":" + o);
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookThrowsBeforeRun_attemptFails_handlerNotRun_failFast() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    RuntimeException boom = new RuntimeException("hook before");
    try (Collector<Long> c =
        collector(
            3,
            hook(
                (b, a) -> {
                  if (b.sequence() == 1) {
                    throw boom;
                  }
                  a.run();
                }))) {
      Outcomes o = new Outcomes();
      c.listen(o);
      BatchFailedException e =
          assertThrows(BatchFailedException.class, () -> c.process(1, b -> ran.incrementAndGet()));
      assertEquals(1, e.sequence());
      assertEquals(boom, e.getCause());
      assertEquals(1, ran.get());
      assertTrue(o.list.contains("1:FAILURE"), o.list.toString());
      assertEquals(1, e.committed().sequence());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookThrowsAfterSuccessfulRun_attemptFails_retriedAndRunsAgain() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (Collector<Long> c =
        collector(
            1,
            hook((b, a) -> {
                  a.run();
                  if (b.attempt() == 1) {
                    throw new IllegalStateException("hook after");
                  }
                })
                .failurePolicy(retries(2)))) {
      Outcomes o = new Outcomes();
      c.listen(o);
      ProcessSummary s = c.process(1, b -> ran.incrementAndGet());
      assertEquals(1, s.batches());
      assertEquals(2, ran.get());
      assertEquals(List.of("0:FAILURE", "0:SUCCESS"), o.list);
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void handlerThrows_hookSwallowsAndThrowsOwn_handlersExceptionWins_hookSuppressed()
      throws Exception {
    RuntimeException handlerEx = new RuntimeException("handler");
    IllegalArgumentException hookEx = new IllegalArgumentException("hook");
    try (Collector<Long> c =
        collector(
            1,
            hook(
                (b, a) -> {
                  try {
                    a.run();
                  } catch (Exception e) {
                    throw hookEx;
                  }
                }))) {
      BatchFailedException e =
          assertThrows(
              BatchFailedException.class,
              () ->
                  c.process(
                      1,
                      b -> {
                        throw handlerEx;
                      }));
      assertEquals(handlerEx, e.getCause());
      assertTrue(List.of(handlerEx.getSuppressed()).contains(hookEx));
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookRunsTwice_secondThrowsIllegalStateNamingBatch_handlerOnce_caughtIsSuccess()
      throws Exception {
    AtomicInteger ran = new AtomicInteger();
    AtomicReference<IllegalStateException> second = new AtomicReference<>();
    try (Collector<Long> c =
        collector(
            3,
            hook(
                (b, a) -> {
                  a.run();
                  try {
                    a.run();
                  } catch (IllegalStateException e) {
                    second.compareAndSet(null, e);
                  }
                }))) {
      ProcessSummary s = c.process(1, b -> ran.incrementAndGet());
      assertEquals(3, s.batches());
      assertEquals(3, ran.get());
      assertNotNull(second.get());
      assertTrue(second.get().getMessage().contains("batch 0"), second.get().getMessage());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookRunsOnAnotherThread_illegalState_handlerNotRun_thenNotRunFails() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    AtomicReference<Throwable> other = new AtomicReference<>();
    try (Collector<Long> c =
        collector(
            1,
            hook(
                (b, a) -> {
                  Thread t =
                      Thread.ofPlatform()
                          .start(
                              () -> {
                                try {
                                  a.run();
                                } catch (Throwable e) {
                                  other.set(e);
                                }
                              });
                  t.join();
                }))) {
      BatchFailedException e =
          assertThrows(BatchFailedException.class, () -> c.process(1, b -> ran.incrementAndGet()));
      assertEquals(0, ran.get());
      assertInstanceOf(IllegalStateException.class, other.get());
      assertTrue(other.get().getMessage().contains("batch 0"), other.get().getMessage());
      assertInstanceOf(AttemptNotRunException.class, e.getCause());
      assertEquals(0, ((AttemptNotRunException) e.getCause()).sequence());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookRunsOnAnotherThreadAndOwnConcurrently_handlerExactlyOnce() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    try (Collector<Long> c =
        collector(
            20,
            hook(
                (b, a) -> {
                  CyclicBarrier barrier = new CyclicBarrier(2);
                  Thread t =
                      Thread.ofPlatform()
                          .start(
                              () -> {
                                try {
                                  barrier.await();
                                  a.run();
                                } catch (Throwable e) {
                                  errors.add(e);
                                }
                              });
                  barrier.await();
                  a.run();
                  t.join();
                }))) {
      ProcessSummary s = c.process(4, b -> ran.incrementAndGet());
      assertEquals(20, s.batches());
      assertEquals(20, ran.get());
      assertEquals(20, errors.size());
      errors.forEach(e -> assertInstanceOf(IllegalStateException.class, e));
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void attemptKeptAndRunAfterHookReturned_illegalState_handlerDoesNotRunAgain() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    AtomicReference<HandlerContext.Attempt> kept = new AtomicReference<>();
    try (Collector<Long> c =
        collector(
            2,
            hook(
                (b, a) -> {
                  a.run();
                  kept.compareAndSet(null, a);
                }))) {
      c.process(1, b -> ran.incrementAndGet());
      assertEquals(2, ran.get());
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> kept.get().run());
      assertTrue(e.getMessage().contains("batch 0"), e.getMessage());
      assertEquals(2, ran.get());
      // also later, from the attempt's former thread family: still refused after the run ended
    }
    IllegalStateException e2 = assertThrows(IllegalStateException.class, () -> kept.get().run());
    assertNotNull(e2.getMessage());
    assertEquals(2, ran.get());
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookSwallowsInterruptOnTimeout_attemptStillTimesOut() throws Exception {
    AtomicReference<Throwable> swallowed = new AtomicReference<>();
    try (Collector<Long> c =
        collector(
            1,
            hook((b, a) -> {
                  try {
                    a.run();
                  } catch (Exception e) {
                    swallowed.set(e); // and return normally
                  }
                })
                .batchTimeout(Duration.ofMillis(100)))) {
      Outcomes o = new Outcomes();
      c.listen(o);
      BatchFailedException e =
          assertThrows(
              BatchFailedException.class, () -> c.process(1, b -> new CountDownLatch(1).await()));
      assertInstanceOf(InterruptedException.class, swallowed.get());
      assertTrue(
          e.getCause() instanceof TimeoutException || e.getCause() instanceof InterruptedException,
          "cause: " + e.getCause());
      assertEquals(List.of("0:TIMEOUT"), o.list);
      assertEquals(0, e.committed().sequence(), "a timed-out batch is not committed");
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookBlocksPastBatchTimeoutBeforeRunning_timeout_handlerNeverRuns() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (Collector<Long> c =
        collector(
            1,
            hook((b, a) -> {
                  new CountDownLatch(1).await();
                  a.run();
                })
                .batchTimeout(Duration.ofMillis(100)))) {
      Outcomes o = new Outcomes();
      c.listen(o);
      BatchFailedException e =
          assertThrows(BatchFailedException.class, () -> c.process(1, b -> ran.incrementAndGet()));
      assertInstanceOf(TimeoutException.class, e.getCause());
      assertEquals(0, ran.get());
      assertEquals(List.of("0:TIMEOUT"), o.list);
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookBlockingUnderStop_drainsWithinDrainTimeout_thenSummaryStopped() throws Exception {
    CountDownLatch inHook = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (Collector<Long> c =
        collector(
            100,
            hook((b, a) -> {
                  if (b.sequence() == 0) {
                    inHook.countDown();
                    release.await();
                  }
                  a.run();
                })
                .drainTimeout(Duration.ofSeconds(30)))) {
      AtomicReference<ProcessSummary> sum = new AtomicReference<>();
      Thread run =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      sum.set(c.process(1, b -> {}));
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                  });
      assertTrue(inHook.await(10, TimeUnit.SECONDS));
      assertTrue(c.stop());
      release.countDown();
      run.join();
      assertTrue(sum.get().stopped());
      assertEquals(1, sum.get().batches(), "the draining hook's batch finished and committed");
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookBlockingUnderClose_interrupted_processReturnsStopped_notCommitted() throws Exception {
    CountDownLatch inHook = new CountDownLatch(1);
    AtomicReference<Throwable> hookSaw = new AtomicReference<>();
    Collector<Long> c =
        collector(
            100,
            hook((b, a) -> {
                  inHook.countDown();
                  try {
                    new CountDownLatch(1).await();
                  } catch (InterruptedException e) {
                    hookSaw.set(e);
                    throw e;
                  }
                  a.run();
                })
                .drainTimeout(Duration.ofSeconds(30)));
    Outcomes o = new Outcomes();
    c.listen(o);
    AtomicReference<Object> result = new AtomicReference<>();
    Thread run =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    result.set(c.process(1, b -> {}));
                  } catch (Throwable e) {
                    result.set(e);
                  }
                });
    assertTrue(inHook.await(10, TimeUnit.SECONDS));
    c.close(); // zero drain timeout: interrupts the hook
    run.join();
    assertInstanceOf(ProcessSummary.class, result.get(), "process result: " + result.get());
    assertTrue(((ProcessSummary) result.get()).stopped());
    assertEquals(0, ((ProcessSummary) result.get()).batches());
    assertInstanceOf(InterruptedException.class, hookSaw.get());
    assertEquals(List.of("0:CANCELLED"), o.list);
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookPlusRetries_hookOncePerAttempt_attemptNumbersSeen() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    DeadLetterCount dl = new DeadLetterCount();
    try (Collector<Long> c =
        collector(
            2,
            hook((b, a) -> {
                  seen.add(b.sequence() + "/" + b.attempt());
                  a.run();
                })
                .failurePolicy(retries(3).thenDeadLetter((b, f) -> dl.add(b.sequence()))))) {
      ProcessSummary s =
          c.process(
              1,
              b -> {
                if (b.sequence() == 1) {
                  throw new RuntimeException("always");
                }
              });
      assertEquals(List.of("0/1", "1/1", "1/2", "1/3"), seen, "hook never wraps dead letter");
      assertEquals(1, s.deadLettered());
      assertEquals(List.of(1L), dl.list);
    }
  }

  static final class DeadLetterCount {
    final List<Long> list = new CopyOnWriteArrayList<>();

    void add(long s) {
      list.add(s);
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookCallsStop_runReturnsStoppedSummary() throws Exception {
    AtomicReference<Collector<Long>> self = new AtomicReference<>();
    Collector<Long> c =
        collector(
            1000,
            hook(
                (b, a) -> {
                  a.run();
                  if (b.sequence() == 5) {
                    assertTrue(self.get().stop());
                  }
                }));
    self.set(c);
    ProcessSummary s = c.process(2, b -> {});
    assertTrue(s.stopped());
    assertTrue(s.batches() >= 6 && s.batches() < 1000, s.toString());
    c.close();
  }

  static final ThreadLocal<String> LEAK = new ThreadLocal<>();

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookSetsThreadLocalWithoutClearing_nextBatchAndRetryThreadsDoNotSeeIt() throws Exception {
    List<String> seenByHandler = new CopyOnWriteArrayList<>();
    try (Collector<Long> c =
        collector(
            20,
            hook((b, a) -> {
                  String before = LEAK.get();
                  seenByHandler.add(b.sequence() + "/" + b.attempt() + " before=" + before);
                  LEAK.set("batch " + b.sequence());
                  a.run();
                })
                .failurePolicy(retries(2)))) {
      c.process(
          1,
          b -> {
            if (b.sequence() == 3 && b.attempt() == 1) {
              throw new RuntimeException("retry me");
            }
          });
    }
    // threads are per batch: a new batch never sees the previous batch's value
    List<String> leaked = seenByHandler.stream().filter(s -> !s.endsWith("before=null")).toList();
    System.out.println("SpiAttackHookTest ThreadLocal observations: leaked=" + leaked);
    assertEquals(List.of(), leaked.stream().filter(s -> !s.startsWith("3/2")).toList());
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookLeavesInterruptFlagAfterSuccess_notACancellation_runCompletes() throws Exception {
    try (Collector<Long> c =
        collector(
            10,
            hook(
                (b, a) -> {
                  a.run();
                  Thread.currentThread().interrupt();
                }))) {
      ProcessSummary s = c.process(2, b -> {});
      assertEquals(10, s.batches());
      assertFalse(s.stopped());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookReturnsWithoutRunning_retryThenDeadLetter_withAttemptNotRun() throws Exception {
    AtomicReference<Throwable> last = new AtomicReference<>();
    try (Collector<Long> c =
        collector(
            1,
            hook((b, a) -> {}).failurePolicy(retries(2).thenDeadLetter((b, f) -> last.set(f))))) {
      AtomicInteger ran = new AtomicInteger();
      ProcessSummary s = c.process(1, b -> ran.incrementAndGet());
      assertEquals(0, ran.get());
      assertEquals(1, s.deadLettered());
      assertInstanceOf(AttemptNotRunException.class, last.get());
      assertTrue(last.get().getMessage().contains("batch 0"), last.get().getMessage());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookThrowsError_attemptFailsLikeHandler_notTheWholeJvm() throws Exception {
    try (Collector<Long> c =
        collector(
            2,
            hook((b, a) -> {
                  a.run();
                  throw new AssertionError("hook error");
                })
                .failurePolicy(retries(1).thenDeadLetter((b, f) -> {})))) {
      ProcessSummary s = c.process(1, b -> {});
      assertEquals(
          2, s.deadLettered(), "an Error from the hook fails the attempt like a handler's");
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookSwallowsCancellationInterrupt_stillCancelled_notSuccess_notCommitted() throws Exception {
    CountDownLatch inHandler = new CountDownLatch(1);
    Collector<Long> c =
        collector(
            10,
            hook(
                (b, a) -> {
                  try {
                    a.run();
                  } catch (InterruptedException e) {
                    // swallow and return normally
                  }
                }));
    Outcomes o = new Outcomes();
    c.listen(o);
    AtomicReference<Object> result = new AtomicReference<>();
    Thread run =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    result.set(
                        c.process(
                            1,
                            b -> {
                              inHandler.countDown();
                              new CountDownLatch(1).await();
                            }));
                  } catch (Throwable e) {
                    result.set(e);
                  }
                });
    assertTrue(inHandler.await(10, TimeUnit.SECONDS));
    c.close();
    run.join();
    assertInstanceOf(ProcessSummary.class, result.get(), "result: " + result.get());
    assertEquals(
        0, ((ProcessSummary) result.get()).batches(), "the cancelled batch is not settled");
    assertEquals(List.of("0:CANCELLED"), o.list);
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hookThrowsInterruptedExceptionOfItsOwn_noCancellation_isAFailure() throws Exception {
    try (Collector<Long> c =
        collector(
            3,
            hook(
                (b, a) -> {
                  a.run();
                  if (b.sequence() == 1) {
                    throw new InterruptedException("hook's own, not the run's");
                  }
                }))) {
      Outcomes o = new Outcomes();
      c.listen(o);
      BatchFailedException e =
          assertThrows(BatchFailedException.class, () -> c.process(1, b -> {}));
      assertEquals(1, e.sequence());
      assertInstanceOf(InterruptedException.class, e.getCause());
      assertTrue(o.list.contains("1:FAILURE"), o.list.toString());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void pullApiRunsNoHook() throws Exception {
    AtomicInteger hookCalls = new AtomicInteger();
    try (Collector<Long> c =
        collector(
            3,
            hook(
                (b, a) -> {
                  hookCalls.incrementAndGet();
                  a.run();
                }))) {
      var d = c.next();
      assertNotNull(d);
      d.ack();
      assertEquals(0, hookCalls.get());
    }
    assertNull(null);
  }
}
