package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.collector.BatchFailedException;
import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener;
import dev.collector.CollectorListener.Outcome;
import dev.collector.CollectorOptions;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.Progress;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Engine v2 (issue 10): the defects of the old engine's pull API, and close() races. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EngineV2PullDefectsTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private final RecordingCheckpointStore store = new RecordingCheckpointStore();

  private static CollectorOptions.Builder options() {
    return CollectorOptions.builder().name("pulldefects").depth(8);
  }

  private Collector<Long> collector(long batches, CollectorOptions.Builder options) {
    return Collecting.open(FakeSource.generated(batches, 1), store, options.build());
  }

  /** Runs {@code call} on a platform thread of its own; the future completes with its outcome. */
  private static final class Call<V> {
    final Thread thread;
    final CompletableFuture<V> result = new CompletableFuture<>();

    Call(String name, Callable<V> call) {
      thread =
          Thread.ofPlatform()
              .daemon()
              .name(name)
              .start(
                  () -> {
                    try {
                      result.complete(call.call());
                    } catch (Throwable t) {
                      result.completeExceptionally(t);
                    }
                  });
    }

    /** Waits until the thread blocks (or has finished). */
    Call<V> awaitBlockedOrDone() {
      await()
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(5))
          .until(
              () ->
                  result.isDone()
                      || switch (thread.getState()) {
                        case WAITING, TIMED_WAITING, BLOCKED -> true;
                        default -> false;
                      });
      return this;
    }

    V get() throws Exception {
      try {
        return result.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof Exception x) {
          throw x;
        }
        throw e;
      }
    }
  }

  private static boolean parked(Thread t) {
    Thread.State state = t.getState();
    return state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING;
  }

  /** A store whose commits wait at a gate the test opens. */
  private static final class GatedStore implements CheckpointStore {
    final RecordingCheckpointStore delegate = new RecordingCheckpointStore();
    final CountDownLatch gate = new CountDownLatch(1);
    final CountDownLatch entered = new CountDownLatch(1);
    volatile Runnable onCommit = () -> {};

    @Override
    public @Nullable Checkpoint load() {
      return delegate.load();
    }

    @Override
    public void commit(Checkpoint checkpoint) throws IOException {
      onCommit.run();
      entered.countDown();
      try {
        if (!gate.await(30, TimeUnit.SECONDS)) {
          throw new IOException("gate never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("commit interrupted");
      }
      delegate.commit(checkpoint);
    }
  }

  /** A source with {@code available} batches, then a follow-mode wait for data that never comes. */
  private static BatchSource<Long> followSource(long available) {
    return token ->
        new SourceReader<>() {
          private long next = token.isEmpty() ? 0 : Long.parseLong(token);

          @Override
          public SourceBatch<Long> next() throws InterruptedException {
            if (next >= available) {
              new CountDownLatch(1).await(); // no new data; the collector interrupts us
            }
            long s = next++;
            return new SourceBatch<>(List.of(s), Long.toString(next));
          }

          @Override
          public void close() {}
        };
  }

  // ---- 2 (pull side): a failing final commit ------------------------------------------------

  @Test
  void d02_pullCloseWithFailingFinalCommit_throwsCheckpointException() throws Exception {
    Collector<Long> c = collector(10, options().commitRetry(Retry.NONE));
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    Delivery<Long> d2 = c.next();
    assertTrue(d0.ack());
    assertTrue(d1.ack());
    assertEquals(new Checkpoint(2, "2"), c.awaitCommitted());
    store.crash();
    assertTrue(d2.ack());
    CheckpointException e = assertThrows(CheckpointException.class, c::close);
    assertEquals(new Checkpoint(2, "2"), e.durable());
    assertEquals(new Checkpoint(2, "2"), store.current());
  }

  // ---- 3 (pull side): a throwing dead-letter handler ------------------------------------------

  @Test
  void d03_pullFailWithThrowingDeadLetterHandler_returnsTrueAndNextThrows() throws Exception {
    var dlqDown = new IllegalStateException("dead-letter queue down");
    var bad = new IOException("bad record");
    Collector<Long> c =
        collector(
            10,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.NONE)
                        .thenDeadLetter(
                            (batch, cause) -> {
                              throw dlqDown;
                            })));
    Delivery<Long> d0 = c.next();
    assertTrue(d0.ack());
    Delivery<Long> d1 = c.next();
    assertTrue(d1.fail(bad));
    BatchFailedException e = assertThrows(BatchFailedException.class, c::next);
    assertEquals(1, e.sequence());
    assertSame(dlqDown, e.getCause());
    assertTrue(List.of(e.getSuppressed()).contains(bad), List.of(e.getSuppressed()).toString());
    assertEquals(new Checkpoint(1, "1"), e.committed());
    c.close();
  }

  /** Throws {@code error} from {@code handled} only. */
  private static final class ErrorOnHandled implements CollectorListener {
    private final Error error;

    ErrorOnHandled(Error error) {
      this.error = error;
    }

    @Override
    public void fetched(long sequence, int records, long fetchNanos) {}

    @Override
    public void windowFull(long waitNanos) {}

    @Override
    public void handled(long sequence, int records, long nanos, Outcome outcome) {
      throw error;
    }

    @Override
    public void acknowledged(long sequence, int records) {}

    @Override
    public void retried(long sequence) {}

    @Override
    public void deadLettered(long sequence) {}

    @Override
    public void committed(long checkpoint, long batches, long nanos) {}

    @Override
    public void misuse(Class<? extends MisuseException> kind, long sequence) {}
  }

  @Test
  void d04_pullListenerErrorInFailWithDeadLetterPolicy_batchIsNotLeftUnsettleable()
      throws Exception {
    AtomicInteger deadLettered = new AtomicInteger();
    Collector<Long> c =
        collector(
            10,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.NONE)
                        .thenDeadLetter((batch, cause) -> deadLettered.incrementAndGet())));
    var oom = new OutOfMemoryError("simulated");
    c.listen(new ErrorOnHandled(oom));
    Delivery<Long> d0 = c.next();
    try {
      d0.fail(new IOException("bad"));
    } catch (OutOfMemoryError e) {
      assertSame(oom, e); // the Error may reach the caller ...
    }
    // ... but the batch must end one way: dead-lettered (the checkpoint can pass it), or the
    // session fails (next() reports it). Not "being dead-lettered" for ever.
    if (deadLettered.get() == 0) {
      Exception e = assertThrows(Exception.class, c::next, "next() went on past batch 0");
      assertInstanceOf(BatchFailedException.class, e);
    } else {
      assertEquals(1, c.awaitCommitted().sequence());
    }
    c.close();
  }

  // ---- 5: exactly one outcome under a dead-letter policy -----------------------------------

  @Test
  void d05_concurrentFailAndAckWhileDeadLetterRuns_exactlyOneOutcome() throws Exception {
    AtomicInteger deadLettered = new AtomicInteger();
    CountDownLatch inHandler = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Collector<Long> c =
        collector(
            10,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.NONE)
                        .thenDeadLetter(
                            (batch, cause) -> {
                              deadLettered.incrementAndGet();
                              inHandler.countDown();
                              assertTrue(release.await(30, TimeUnit.SECONDS));
                            })));
    Delivery<Long> d = c.next();
    var cause = new IOException("bad");
    Call<Boolean> first = new Call<>("fail-1", () -> d.fail(cause));
    assertTrue(inHandler.await(10, TimeUnit.SECONDS));
    Call<Boolean> second = new Call<>("fail-2", () -> d.fail(cause)).awaitBlockedOrDone();
    Call<Boolean> ack = new Call<>("ack", d::ack).awaitBlockedOrDone();
    release.countDown();
    boolean a = first.get();
    boolean b = second.get();
    assertTrue(a ^ b, "exactly one fail() returns true: " + a + ", " + b);
    assertEquals(1, deadLettered.get(), "dead-letter handler runs");
    Exception ackOutcome = assertThrows(Exception.class, ack::get, "ack() returned true");
    assertInstanceOf(ConflictingOutcomeException.class, ackOutcome);
    // the dead-lettered batch is settled: the checkpoint passes it
    Delivery<Long> next = c.next();
    assertEquals(1, next.batch().sequence());
    assertTrue(next.ack());
    assertEquals(2, c.awaitCommitted().sequence());
    c.close();
  }

  @Test
  void d05_racingFails_deadLetterOnceAndOneTrue() throws Exception {
    long seed = Long.getLong("collector.seed", System.nanoTime());
    System.out.println("d05_racingFails seed " + seed);
    SplittableRandom random = new SplittableRandom(seed);
    AtomicInteger deadLettered = new AtomicInteger();
    Collector<Long> c =
        collector(
            200,
            options()
                .failurePolicy(
                    FailurePolicy.retry(Retry.NONE)
                        .thenDeadLetter((batch, cause) -> deadLettered.incrementAndGet())));
    for (int round = 0; round < 100; round++) {
      Delivery<Long> d = c.next();
      assertNotNull(d);
      CountDownLatch go = new CountDownLatch(1);
      int spin = random.nextInt(2000);
      Call<Boolean> x =
          new Call<>(
              "x",
              () -> {
                go.await();
                return d.fail(new IOException("x"));
              });
      Call<Boolean> y =
          new Call<>(
              "y",
              () -> {
                go.await();
                for (int i = 0; i < spin; i++) {
                  Thread.onSpinWait();
                }
                return d.fail(new IOException("y"));
              });
      go.countDown();
      boolean a = x.get();
      boolean b = y.get();
      assertTrue(a ^ b, "seed " + seed + " round " + round + ": " + a + ", " + b);
      assertEquals(round + 1, deadLettered.get(), "seed " + seed + " round " + round);
    }
    assertEquals(100, c.awaitCommitted().sequence());
    c.close();
  }

  // ---- 6: lost wake-up of an untimed next() -------------------------------------------------

  @Test
  void d06_timedAndUntimedNextWaiting_untimedGetsTheRedelivery() throws Exception {
    boolean timedOneTimedOut = false;
    for (int round = 0; round < 10 && !timedOneTimedOut; round++) {
      RecordingCheckpointStore s = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(
              followSource(1),
              s,
              options()
                  .failurePolicy(
                      FailurePolicy.retry(
                          Retry.of(2, Duration.ofSeconds(2), Duration.ofSeconds(2))))
                  .build());
      try {
        Delivery<Long> d = c.next();
        assertNotNull(d);
        Call<@Nullable Delivery<Long>> timed =
            new Call<>("timed", () -> c.next(Duration.ofMillis(150)));
        Call<@Nullable Delivery<Long>> untimed = new Call<>("untimed", c::next);
        await()
            .atMost(WAIT)
            .pollInterval(Duration.ofMillis(2))
            .until(() -> timed.result.isDone() || (parked(timed.thread) && parked(untimed.thread)));
        if (timed.result.isDone()) {
          continue; // a loaded machine: the timed next() ran out before the other one waited
        }
        assertTrue(d.fail(new IOException("transient")));
        Delivery<Long> fromTimed = timed.get();
        if (fromTimed != null) {
          // the backoff drew less than 150 ms: the timed caller got it; try again
          assertEquals(2, fromTimed.batch().attempt());
          continue;
        }
        timedOneTimedOut = true;
        Delivery<Long> redelivery = untimed.result.get(8, TimeUnit.SECONDS);
        assertNotNull(redelivery);
        assertEquals(0, redelivery.batch().sequence());
        assertEquals(2, redelivery.batch().attempt());
        assertTrue(redelivery.ack());
      } finally {
        c.close();
      }
    }
    assertTrue(timedOneTimedOut, "no round had the timed next() time out");
  }

  // ---- 7: awaitCommitted() racing close() ----------------------------------------------------

  @Test
  void d07_awaitCommittedDuringClose_neverBelowAckedPrefix() throws Exception {
    GatedStore gated = new GatedStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(10, 1), gated, options().build());
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    Delivery<Long> d2 = c.next();
    assertTrue(d0.ack());
    assertTrue(gated.entered.await(10, TimeUnit.SECONDS)); // a commit is in flight, held
    assertTrue(d1.ack());
    assertTrue(d2.ack()); // acknowledged prefix: 3
    Call<Checkpoint> waiter = new Call<>("waiter", c::awaitCommitted).awaitBlockedOrDone();
    Call<Boolean> closer =
        new Call<>(
                "closer",
                () -> {
                  c.close();
                  return true;
                })
            .awaitBlockedOrDone();
    Call<Checkpoint> lateWaiter = new Call<>("late", c::awaitCommitted).awaitBlockedOrDone();
    gated.gate.countDown();
    assertTrue(closer.get());
    try {
      Checkpoint cp = waiter.get();
      assertTrue(cp.sequence() >= 3, "awaitCommitted() returned " + cp + " below the acked 3");
    } catch (CheckpointException e) {
      assertNotNull(e.durable()); // allowed: then it names what is durable
    }
    try {
      Checkpoint cp = lateWaiter.get();
      assertTrue(cp.sequence() >= 3, "awaitCommitted() during close() returned " + cp);
    } catch (CheckpointException e) {
      assertNotNull(e.durable());
    }
    assertEquals(3, gated.delegate.current().sequence());
  }

  // ---- 10: progress() never blocks behind a slow final commit -------------------------------

  @Test
  void d10_progressDuringCloseWaitingForSlowCommit_doesNotBlock() throws Exception {
    GatedStore gated = new GatedStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(10, 1), gated, options().build());
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    assertTrue(d0.ack());
    assertTrue(gated.entered.await(10, TimeUnit.SECONDS));
    assertTrue(d1.ack());
    Call<Boolean> closer =
        new Call<>(
                "closer",
                () -> {
                  c.close();
                  return true;
                })
            .awaitBlockedOrDone();
    Call<Progress> progress = new Call<>("progress", c::progress);
    try {
      Progress p = progress.result.get(5, TimeUnit.SECONDS);
      assertTrue(p.committed() <= p.acknowledged(), "" + p);
    } catch (java.util.concurrent.TimeoutException e) {
      fail("progress() blocked while close() waits for the commit");
    } finally {
      gated.gate.countDown();
    }
    assertTrue(closer.get());
    assertEquals(2, gated.delegate.current().sequence());
  }

  @Test
  void d10_storeCommitCallsProgress_pullCloseDoesNotDeadlock() throws Exception {
    GatedStore calling = new GatedStore();
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    calling.onCommit =
        () -> {
          Collector<Long> c = ref.get();
          if (c != null) {
            c.progress();
          }
        };
    Collector<Long> c = Collecting.open(FakeSource.generated(10, 1), calling, options().build());
    ref.set(c);
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    assertTrue(d0.ack());
    assertTrue(calling.entered.await(10, TimeUnit.SECONDS)); // the commit of 1 is held
    assertTrue(d1.ack());
    Call<Boolean> closer =
        new Call<>(
                "closer",
                () -> {
                  c.close();
                  return true;
                })
            .awaitBlockedOrDone();
    calling.gate.countDown(); // the commit of 2, calling progress(), runs inside close()
    assertTrue(closer.get(), "close() deadlocked");
    assertEquals(2, calling.delegate.current().sequence());
  }

  // ---- 11: a second ack() after the session ended ------------------------------------------

  @Test
  void d11_secondAckAfterClose_returnsFalse() throws Exception {
    Collector<Long> c = collector(10, options());
    Delivery<Long> d = c.next();
    assertTrue(d.ack());
    assertEquals(1, c.awaitCommitted().sequence());
    c.close();
    assertFalse(d.ack(), "already acknowledged and committed");
  }

  @Test
  void d11_secondAckAfterSessionEndedByFailure_returnsFalse() throws Exception {
    Collector<Long> c = collector(10, options());
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    assertTrue(d0.ack());
    assertTrue(d1.fail(new IOException("bad")));
    assertThrows(BatchFailedException.class, c::next); // ends the session
    assertFalse(d0.ack(), "already acknowledged and committed");
    assertEquals(1, store.current().sequence());
    c.close();
  }

  // ---- races of close() with the other methods -----------------------------------------------

  @Test
  void race_closeWhileNextWaits_nextThrowsCollectorClosed() throws Exception {
    Collector<Long> c = Collecting.open(followSource(1), store, options().build());
    Delivery<Long> d = c.next();
    assertTrue(d.ack());
    Call<@Nullable Delivery<Long>> waiting = new Call<>("next", c::next);
    await().atMost(WAIT).pollInterval(Duration.ofMillis(2)).until(() -> parked(waiting.thread));
    c.close();
    Exception e = assertThrows(Exception.class, waiting::get, "next() returned normally");
    assertInstanceOf(CollectorClosedException.class, e);
    assertEquals(1, store.current().sequence());
  }

  @Test
  void race_twoCloseCalls_secondReturnsOnlyOnceTheFinalCommitIsDurable() throws Exception {
    GatedStore gated = new GatedStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(10, 1), gated, options().build());
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    assertTrue(d0.ack());
    assertTrue(gated.entered.await(10, TimeUnit.SECONDS));
    assertTrue(d1.ack());
    Call<Long> first =
        new Call<>(
                "close-1",
                () -> {
                  c.close();
                  return gated.delegate.current().sequence();
                })
            .awaitBlockedOrDone();
    Call<Long> second =
        new Call<>(
                "close-2",
                () -> {
                  c.close();
                  return gated.delegate.current().sequence();
                })
            .awaitBlockedOrDone();
    gated.gate.countDown();
    assertEquals(2, first.get(), "durable when the first close() returned");
    assertEquals(2, second.get(), "durable when the second close() returned");
  }

  @Test
  void race_ackVersusClose_anAckThatReturnedTrueIsCommitted() throws Exception {
    long seed = Long.getLong("collector.seed", System.nanoTime());
    System.out.println("race_ackVersusClose seed " + seed);
    SplittableRandom random = new SplittableRandom(seed);
    for (int round = 0; round < 100; round++) {
      RecordingCheckpointStore s = new RecordingCheckpointStore();
      Collector<Long> c = Collecting.open(FakeSource.generated(10, 1), s, options().build());
      Delivery<Long> d = c.next();
      CountDownLatch go = new CountDownLatch(1);
      int spin = random.nextInt(5000);
      Call<Boolean> acker =
          new Call<>(
              "ack",
              () -> {
                go.await();
                for (int i = 0; i < spin; i++) {
                  Thread.onSpinWait();
                }
                return d.ack();
              });
      Call<Boolean> closer =
          new Call<>(
              "close",
              () -> {
                go.await();
                c.close();
                return true;
              });
      go.countDown();
      String where = "seed " + seed + " round " + round;
      assertTrue(closer.get(), where);
      try {
        assertTrue(acker.get(), where);
        assertEquals(1, s.current().sequence(), where + ": ack returned true, not committed");
      } catch (CollectorClosedException e) {
        assertEquals(0, s.current().sequence(), where + ": ack threw, yet committed");
      }
    }
  }

  @Test
  void race_nextAfterClose_throwsCollectorClosedAndTryNextToo() throws Exception {
    Collector<Long> c = collector(10, options());
    assertNotNull(c.next());
    c.close();
    assertThrows(CollectorClosedException.class, c::next);
    assertThrows(CollectorClosedException.class, c::tryNext);
  }
}
