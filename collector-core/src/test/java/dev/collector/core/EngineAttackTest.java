package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import dev.collector.CollectorOptions;
import dev.collector.ConcurrentUseException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Progress;
import dev.collector.ReentrantCallException;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceException;
import dev.collector.SourceReader;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A hostile user's attacks on the engine, through the public API and its written promises. */
@ExtendWith(CollectorLeakCheck.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class EngineAttackTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Duration HUGE = Duration.ofSeconds(Long.MAX_VALUE);

  // ---------------------------------------------------------------- helpers

  private static CollectorOptions.Builder opts(String name) {
    return CollectorOptions.builder().name(name).stuckThreshold(Duration.ZERO);
  }

  private static void assertNoLeaks() {
    List<String> alive = new ArrayList<>(CollectorLeakCheck.liveCollectorThreads());
    alive.remove("test-owner"); // BackgroundRun's own thread, not the collector's
    assertEquals(List.of(), alive, "G4: collector threads alive");
  }

  /** Runs {@code c} on a platform thread of its own. */
  private static <V> CompletableFuture<V> async(String name, Callable<V> c) {
    CompletableFuture<V> f = new CompletableFuture<>();
    Thread.ofPlatform()
        .name(name)
        .start(
            () -> {
              try {
                f.complete(c.call());
              } catch (Throwable t) {
                f.completeExceptionally(t);
              }
            });
    return f;
  }

  private static Throwable failureOf(CompletableFuture<?> f) throws Exception {
    try {
      Object v = f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      throw new AssertionError("expected a failure, got " + v);
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  private static void awaitBlocked(Thread t) {
    await()
        .atMost(WAIT)
        .until(
            () ->
                t.getState() == Thread.State.WAITING || t.getState() == Thread.State.TIMED_WAITING);
  }

  /** A store that can block commits at a sequence and run a callback in commit. */
  static final class GateStore implements CheckpointStore {
    final RecordingCheckpointStore inner;
    volatile long blockAt = Long.MAX_VALUE;
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch open = new CountDownLatch(1);
    volatile @Nullable Consumer<Checkpoint> onCommit;
    volatile @Nullable RuntimeException loadFailure;

    GateStore(RecordingCheckpointStore inner) {
      this.inner = inner;
    }

    @Override
    public @Nullable Checkpoint load() throws IOException {
      RuntimeException f = loadFailure;
      if (f != null) {
        throw f;
      }
      return inner.load();
    }

    @Override
    public void commit(Checkpoint checkpoint) throws IOException {
      Consumer<Checkpoint> cb = onCommit;
      if (cb != null) {
        cb.accept(checkpoint);
      }
      if (checkpoint.sequence() >= blockAt) {
        entered.countDown();
        boolean interrupted = false;
        while (true) {
          try {
            open.await();
            break;
          } catch (InterruptedException e) {
            interrupted = true; // a real fsync is not interruptible
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
      inner.commit(checkpoint);
    }
  }

  /** G1 check: the store refuses a checkpoint past a batch that is not settled. */
  private static RecordingCheckpointStore g1Store(Set<Long> settled) {
    return new RecordingCheckpointStore(
        null,
        (prev, next) -> {
          for (long s = prev.sequence(); s < next.sequence(); s++) {
            if (!settled.contains(s)) {
              throw new AssertionError("G1: commit " + next + " passes unsettled batch " + s);
            }
          }
        });
  }

  /** A source whose reader blocks (interruptibly) once {@code available} batches were read. */
  static final class BlockingSource implements BatchSource<Long> {
    final int available;
    final CountDownLatch blocked = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    BlockingSource(int available) {
      this.available = available;
    }

    @Override
    public SourceReader<Long> open(String resumeToken) {
      int start = resumeToken.isEmpty() ? 0 : Integer.parseInt(resumeToken);
      return new SourceReader<>() {
        int next = start;

        @Override
        public @Nullable SourceBatch<Long> next() throws Exception {
          if (next >= available) {
            blocked.countDown();
            release.await();
            return null;
          }
          long n = next++;
          return new SourceBatch<>(List.of(n), Integer.toString(next));
        }

        @Override
        public void close() {}
      };
    }
  }

  // ---------------------------------------------------------------- process vs close / stop

  @Test
  void close_duringProcess_returnsStoppedSummary_waitsForRun_noLeak() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(100, 1), store, opts("a-close").build());
    BackgroundRun run = BackgroundRun.start(c, 4, ctl);
    ctl.release(0);
    store.awaitSequence(1, WAIT);
    ctl.awaitStartedCount(4, WAIT);
    c.close();
    assertNoLeaks(); // G4: "After close() returns, no thread of the collector runs"
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped(), "summary should say stopped: " + s);
    assertEquals(store.current(), s.checkpoint());
    assertEquals(1, store.current().sequence());
    assertNoLeaks();
    store.assertNoViolation();
  }

  @Test
  void stop_fromHandler_returnsStoppedSummary() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10_000, 1), store, opts("a-stoph").build());
    AtomicBoolean stopAnswer = new AtomicBoolean();
    ProcessSummary s =
        c.process(
            4,
            b -> {
              if (b.sequence() == 3) {
                stopAnswer.set(c.stop());
                c.progress();
              }
            });
    assertTrue(stopAnswer.get());
    assertTrue(s.stopped(), s.toString());
    assertTrue(s.checkpoint().sequence() >= 4 && s.checkpoint().sequence() < 10_000, s.toString());
    assertEquals(store.current(), s.checkpoint());
    assertFalse(c.stop(), "stop() after the run returned must answer false");
    c.close();
    assertNoLeaks();
  }

  @Test
  void stop_andProgress_fromStoreCommit_returnsStoppedSummary() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    List<Progress> seen = new ArrayList<>();
    gate.onCommit =
        cp -> {
          Collector<Long> c = ref.get();
          if (c != null && cp.sequence() >= 5) {
            seen.add(c.progress());
            c.stop();
          }
        };
    Collector<Long> c =
        Collecting.open(FakeSource.generated(100_000, 1), gate, opts("a-stops").build());
    ref.set(c);
    ProcessSummary s = c.process(8, b -> {});
    assertTrue(s.stopped(), s.toString());
    assertFalse(seen.isEmpty());
    for (Progress p : seen) {
      assertTrue(
          p.committed() <= p.acknowledged() && p.acknowledged() <= p.fetched(), p.toString());
    }
    c.close();
    assertNoLeaks();
  }

  @Test
  void close_fromStoreCommit_duringProcess_doesNotDeadlock() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> closeOutcome = new AtomicReference<>();
    AtomicBoolean once = new AtomicBoolean();
    gate.onCommit =
        cp -> {
          Collector<Long> c = ref.get();
          if (c != null && cp.sequence() >= 3 && once.compareAndSet(false, true)) {
            try {
              c.close();
            } catch (Throwable t) {
              closeOutcome.set(t);
            }
          }
        };
    Collector<Long> c =
        Collecting.open(FakeSource.generated(1_000, 1), gate, opts("a-closes").build());
    ref.set(c);
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    // Either close() from the store is refused or it stops the run: but the run must end.
    try {
      run.await(WAIT);
    } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
      if (!run.isDone()) {
        fail(
            "process() and close() from the store's commit deadlocked: "
                + CollectorLeakCheck.liveCollectorThreads());
      }
    } catch (AssertionError e) {
      // process threw: acceptable as long as it ended
    }
    assertTrue(run.isDone());
    assertNoLeaks();
  }

  @Test
  void close_fromDeadLetterHandler_duringProcess_endsRun() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> fromClose = new AtomicReference<>();
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  try {
                    ref.get().close();
                  } catch (Throwable t) {
                    fromClose.set(t);
                    throw t;
                  }
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(50, 1), store, opts("a-dlclose").failurePolicy(policy).build());
    ref.set(c);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            4,
            b -> {
              if (b.sequence() == 2) {
                throw new IOException("boom 2");
              }
            });
    try {
      ProcessSummary s = run.await(WAIT);
      assertTrue(s.stopped(), s.toString());
    } catch (java.util.concurrent.TimeoutException e) {
      fail("close() from a dead-letter handler deadlocked process()");
    } catch (AssertionError e) {
      Throwable t = e.getCause();
      assertInstanceOf(BatchFailedException.class, t);
      assertInstanceOf(ReentrantCallException.class, t.getCause(), "cause: " + t.getCause());
    }
    assertNoLeaks();
  }

  @Test
  void stop_concurrentCalls_allTrueWhileActive() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(100, 1), store, opts("a-stopmany").drainTimeout(WAIT).build());
    BackgroundRun run = BackgroundRun.start(c, 4, ctl);
    ctl.awaitStartedCount(4, WAIT);
    CyclicBarrier barrier = new CyclicBarrier(8);
    List<CompletableFuture<Boolean>> fs = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      fs.add(
          async(
              "stopper-" + i,
              () -> {
                barrier.await();
                return c.stop();
              }));
    }
    for (CompletableFuture<Boolean> f : fs) {
      assertTrue(
          f.get(10, TimeUnit.SECONDS),
          "a concurrent stop() answered false while the run was active");
    }
    ctl.releaseAll();
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped());
    assertEquals(4, s.checkpoint().sequence(), "drain lets the 4 running handlers finish: " + s);
    c.close();
    assertNoLeaks();
  }

  @Test
  void closeRacingProcessStart_eitherClosedOrStopped_noLeak() throws Exception {
    long seed = System.nanoTime();
    System.out.println("closeRacingProcessStart seed=" + seed);
    for (int i = 0; i < 25; i++) {
      var store = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(FakeSource.generated(1_000, 1), store, opts("a-race" + i).build());
      CyclicBarrier barrier = new CyclicBarrier(2);
      CompletableFuture<ProcessSummary> p =
          async(
              "proc",
              () -> {
                barrier.await();
                return c.process(4, b -> {});
              });
      CompletableFuture<Boolean> cl =
          async(
              "closer",
              () -> {
                barrier.await();
                c.close();
                return true;
              });
      assertTrue(cl.get(10, TimeUnit.SECONDS));
      try {
        ProcessSummary s = p.get(10, TimeUnit.SECONDS);
        assertEquals(store.current(), s.checkpoint(), "iteration " + i);
      } catch (ExecutionException e) {
        assertInstanceOf(CollectorClosedException.class, e.getCause(), "iteration " + i);
      }
      assertNoLeaks();
      store.assertNoViolation();
    }
  }

  @Test
  void processVsNext_atStart_exactlyOneWins() throws Exception {
    for (int i = 0; i < 20; i++) {
      var store = new RecordingCheckpointStore();
      var ctl = new CompletionController<Long>();
      Collector<Long> c =
          Collecting.open(FakeSource.generated(100, 1), store, opts("a-pvn" + i).depth(4).build());
      CyclicBarrier barrier = new CyclicBarrier(2);
      CompletableFuture<ProcessSummary> p =
          async(
              "proc",
              () -> {
                barrier.await();
                return c.process(4, ctl);
              });
      CompletableFuture<@Nullable Delivery<Long>> n =
          async(
              "next",
              () -> {
                barrier.await();
                return c.next();
              });
      Throwable nextFailure = null;
      try {
        n.get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        nextFailure = e.getCause();
      }
      if (nextFailure == null) {
        // pull won: process must have been refused
        Throwable pf = failureOf(p);
        assertInstanceOf(ConcurrentUseException.class, pf, "iteration " + i);
      } else {
        assertInstanceOf(ConcurrentUseException.class, nextFailure, "iteration " + i);
        ctl.releaseAll();
        p.get(10, TimeUnit.SECONDS);
      }
      c.close();
      assertNoLeaks();
    }
  }

  // ---------------------------------------------------------------- deliveries racing

  @Test
  void ack_fromManyThreads_exactlyOneTrue() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(FakeSource.generated(100, 1), store, opts("a-acks").depth(8).build())) {
      for (int i = 0; i < 100; i++) {
        Delivery<Long> d = c.next();
        assertNotNull(d);
        CyclicBarrier barrier = new CyclicBarrier(4);
        List<CompletableFuture<Boolean>> fs = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          fs.add(
              async(
                  "acker",
                  () -> {
                    barrier.await();
                    return d.ack();
                  }));
        }
        int trues = 0;
        for (CompletableFuture<Boolean> f : fs) {
          trues += f.get(10, TimeUnit.SECONDS) ? 1 : 0;
        }
        assertEquals(1, trues, "batch " + i);
      }
      assertEquals(100, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
    store.assertNoViolation();
  }

  @Test
  void ackVsFail_race_exactlyOneOutcome_deadLetterOncePerFailure() throws Exception {
    var store = new RecordingCheckpointStore();
    ConcurrentHashMap<Long, AtomicInteger> deadLettered = new ConcurrentHashMap<>();
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) ->
                    deadLettered
                        .computeIfAbsent(b.sequence(), k -> new AtomicInteger())
                        .incrementAndGet());
    int n = 100;
    int failWins = 0;
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(n, 1),
            store,
            opts("a-ackfail").depth(8).failurePolicy(policy).build())) {
      for (int i = 0; i < n; i++) {
        Delivery<Long> d = c.next();
        assertNotNull(d);
        CyclicBarrier barrier = new CyclicBarrier(4);
        List<CompletableFuture<Boolean>> acks = new ArrayList<>();
        List<CompletableFuture<Boolean>> fails = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
          acks.add(
              async(
                  "acker",
                  () -> {
                    barrier.await();
                    return d.ack();
                  }));
          fails.add(
              async(
                  "failer",
                  () -> {
                    barrier.await();
                    return d.fail(new IOException("x"));
                  }));
        }
        int ackTrue = 0;
        int failTrue = 0;
        int conflicts = 0;
        for (CompletableFuture<Boolean> f : acks) {
          try {
            ackTrue += f.get(10, TimeUnit.SECONDS) ? 1 : 0;
          } catch (ExecutionException e) {
            assertInstanceOf(ConflictingOutcomeException.class, e.getCause());
            conflicts++;
          }
        }
        for (CompletableFuture<Boolean> f : fails) {
          try {
            failTrue += f.get(10, TimeUnit.SECONDS) ? 1 : 0;
          } catch (ExecutionException e) {
            assertInstanceOf(ConflictingOutcomeException.class, e.getCause());
            conflicts++;
          }
        }
        assertEquals(1, ackTrue + failTrue, "batch " + i + ": exactly one outcome wins");
        assertEquals(2, conflicts, "batch " + i + ": both losers of the other outcome throw");
        failWins += failTrue;
      }
      assertEquals(n, c.awaitCommitted().sequence());
    }
    int dl = 0;
    for (AtomicInteger a : deadLettered.values()) {
      assertEquals(1, a.get(), "dead letter at most once per batch");
      dl += a.get();
    }
    assertEquals(failWins, dl);
    assertNoLeaks();
  }

  @Test
  void ackRacingClose_ackTrueIsCoveredByFinalCommit() throws Exception {
    for (int it = 0; it < 30; it++) {
      var store = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(100, 1), store, opts("a-ackclose" + it).depth(8).build());
      List<Delivery<Long>> ds = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        ds.add(c.next());
      }
      CyclicBarrier barrier = new CyclicBarrier(9);
      List<CompletableFuture<Boolean>> fs = new ArrayList<>();
      for (Delivery<Long> d : ds) {
        fs.add(
            async(
                "acker",
                () -> {
                  barrier.await();
                  try {
                    return d.ack();
                  } catch (CollectorClosedException e) {
                    return false;
                  }
                }));
      }
      CompletableFuture<Boolean> cl =
          async(
              "closer",
              () -> {
                barrier.await();
                c.close();
                return true;
              });
      assertTrue(cl.get(10, TimeUnit.SECONDS));
      int prefix = 0;
      boolean contiguous = true;
      for (CompletableFuture<Boolean> f : fs) {
        boolean ok = f.get(10, TimeUnit.SECONDS);
        if (ok && contiguous) {
          prefix++;
        } else {
          contiguous = false;
        }
      }
      assertTrue(
          store.current().sequence() >= prefix,
          "iteration "
              + it
              + ": acks returned true for prefix "
              + prefix
              + " but close committed "
              + store.current());
      assertNoLeaks();
    }
  }

  @Test
  void awaitCommitted_racingCloseWithSlowFinalCommit_coversAckedPrefix() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.blockAt = 1;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(100, 1), gate, opts("a-awaitclose").depth(8).build());
    List<Delivery<Long>> ds = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ds.add(c.next());
    }
    for (int i = 0; i < 4; i++) {
      assertTrue(ds.get(i).ack());
    }
    CompletableFuture<Boolean> closer =
        async(
            "closer",
            () -> {
              c.close();
              return true;
            });
    assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
    CompletableFuture<Checkpoint> awaiter = async("awaiter", c::awaitCommitted);
    CompletableFuture<Progress> prog = async("prog", c::progress);
    prog.get(10, TimeUnit.SECONDS); // progress never blocks, also during a slow final commit
    gate.open.countDown();
    assertTrue(closer.get(10, TimeUnit.SECONDS));
    Checkpoint cp = awaiter.get(10, TimeUnit.SECONDS);
    assertTrue(cp.sequence() >= 4, "awaitCommitted below the acked prefix: " + cp);
    assertEquals(4, gate.inner.current().sequence());
    assertNoLeaks();
  }

  @Test
  void twoCloses_secondWaitsForFirstsFinalCommit() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.blockAt = 1;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), gate, opts("a-twoclose").depth(4).build());
    Delivery<Long> d = c.next();
    assertNotNull(d);
    assertTrue(d.ack());
    assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
    AtomicLong seenBySecond = new AtomicLong(-1);
    CompletableFuture<Boolean> first =
        async(
            "close1",
            () -> {
              c.close();
              return true;
            });
    CompletableFuture<Boolean> second =
        async(
            "close2",
            () -> {
              c.close();
              seenBySecond.set(gate.inner.current().sequence());
              return true;
            });
    gate.open.countDown();
    assertTrue(first.get(10, TimeUnit.SECONDS));
    assertTrue(second.get(10, TimeUnit.SECONDS));
    assertEquals(1, seenBySecond.get(), "second close returned before the final commit");
    c.close();
    assertNoLeaks();
  }

  @Test
  void nextWaiters_timedAndUntimed_wokenByClose() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), store, opts("a-wake").depth(1).build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    CompletableFuture<@Nullable Delivery<Long>> untimed = async("w-untimed", c::next);
    CompletableFuture<@Nullable Delivery<Long>> timed =
        async("w-timed", () -> c.next(Duration.ofMinutes(5)));
    await().atMost(WAIT).until(() -> c.progress().fetched() >= 1);
    Thread.onSpinWait();
    c.close();
    assertInstanceOf(CollectorClosedException.class, failureOf(untimed));
    assertInstanceOf(CollectorClosedException.class, failureOf(timed));
    assertThrows(CollectorClosedException.class, d0::ack);
    assertEquals(0, store.current().sequence());
    assertNoLeaks();
  }

  @Test
  void nextWaiter_getsDueRedelivery() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO));
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1),
            store,
            opts("a-redeliver").depth(1).failurePolicy(policy).build())) {
      Delivery<Long> d0 = c.next();
      assertNotNull(d0);
      CompletableFuture<@Nullable Delivery<Long>> waiter =
          async("waiter", () -> c.next(Duration.ofMinutes(1)));
      assertTrue(d0.fail(new IOException("first")));
      Delivery<Long> again = waiter.get(10, TimeUnit.SECONDS);
      assertNotNull(again, "the waiter was not woken by the redelivery");
      assertEquals(0, again.batch().sequence());
      assertEquals(2, again.batch().attempt());
      assertThrows(ConflictingOutcomeException.class, d0::ack);
      assertTrue(again.ack());
      assertEquals(1, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  @Test
  void sessionFailure_reportedToExactlyOneWaiter() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(1, 1), store, opts("a-onefail").depth(1).build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    List<CompletableFuture<@Nullable Delivery<Long>>> ws = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ws.add(async("waiter-" + i, () -> c.next(Duration.ofSeconds(20))));
    }
    assertTrue(d0.fail(new IOException("fail 0")));
    int failures = 0;
    List<Delivery<Long>> got = new ArrayList<>();
    // Take the outcomes in the order they come: the redelivery's winner acks it, and only then
    // can the last waiter see the source exhausted (depth 1: the fetcher reads the end of the
    // source once batch 0 is committed).
    long deadline = System.nanoTime() + WAIT.toNanos();
    List<CompletableFuture<@Nullable Delivery<Long>>> pending = new ArrayList<>(ws);
    while (!pending.isEmpty() && System.nanoTime() < deadline) {
      try {
        CompletableFuture.anyOf(pending.toArray(new CompletableFuture<?>[0]))
            .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (ExecutionException e) {
        // handled below, per future
      } catch (java.util.concurrent.TimeoutException e) {
        break;
      }
      for (var it = pending.iterator(); it.hasNext(); ) {
        CompletableFuture<@Nullable Delivery<Long>> w = it.next();
        if (!w.isDone()) {
          continue;
        }
        it.remove();
        try {
          Delivery<Long> d = w.get();
          if (d != null) {
            got.add(d);
            d.ack();
          }
        } catch (ExecutionException e) {
          assertInstanceOf(BatchFailedException.class, e.getCause());
          failures++;
        }
      }
    }
    assertTrue(pending.isEmpty(), pending.size() + " waiters still waiting");
    assertEquals(1, failures, "exactly one caller throws the failure");
    assertEquals(1, got.size(), "the failed batch is delivered again exactly once");
    assertEquals(0, got.get(0).batch().sequence());
    assertEquals(1, c.awaitCommitted().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void deliveryClose_racingAck_neverThrowsMisuse() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.failFast().thenDeadLetter((b, e) -> {});
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(200, 1),
            store,
            opts("a-dclose").depth(8).failurePolicy(policy).build())) {
      for (int i = 0; i < 200; i++) {
        Delivery<Long> d = c.next();
        assertNotNull(d);
        CyclicBarrier barrier = new CyclicBarrier(2);
        CompletableFuture<Boolean> closer =
            async(
                "dclose",
                () -> {
                  barrier.await();
                  d.close();
                  return true;
                });
        CompletableFuture<Boolean> acker =
            async(
                "dack",
                () -> {
                  barrier.await();
                  try {
                    return d.ack();
                  } catch (ConflictingOutcomeException e) {
                    return false;
                  }
                });
        assertTrue(closer.get(10, TimeUnit.SECONDS));
        acker.get(10, TimeUnit.SECONDS);
      }
      assertEquals(200, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- interrupts

  @Test
  void interrupt_duringBlockedFetch_throwsInterrupted_commitsPrefix() throws Exception {
    var store = new RecordingCheckpointStore();
    var src = new BlockingSource(2);
    Collector<Long> c = Collecting.open(src, store, opts("a-intfetch").build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    assertTrue(src.blocked.await(10, TimeUnit.SECONDS));
    store.awaitSequence(2, WAIT);
    run.owner.interrupt();
    Throwable t = run.awaitFailure(WAIT);
    assertInstanceOf(InterruptedException.class, t);
    assertTrue(run.interruptStatusKept, "G5: interrupt status kept");
    assertEquals(2, store.current().sequence());
    assertNoLeaks();
    // reuse: resumes at the durable checkpoint
    List<Long> seen = new CopyOnWriteList();
    src.release.countDown();
    c.process(4, b -> seen.add(b.sequence()));
    assertEquals(List.of(), seen);
    c.close();
    assertNoLeaks();
  }

  /** A tiny thread-safe list for the tests. */
  @SuppressWarnings("serial")
  static final class CopyOnWriteList extends java.util.concurrent.CopyOnWriteArrayList<Long> {}

  @Test
  void interrupt_duringFinalCommit_commitsThenThrowsInterrupted() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.blockAt = 3;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(3, 1), gate, opts("a-intfinal").build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
    run.owner.interrupt();
    awaitBlocked(run.owner);
    gate.open.countDown();
    Throwable t = run.awaitFailure(WAIT);
    assertInstanceOf(InterruptedException.class, t);
    assertTrue(run.interruptStatusKept);
    assertEquals(3, gate.inner.current().sequence(), "G9: the final commit was dropped");
    assertTrue(
        String.valueOf(t.getMessage()).contains("3"),
        "names the durable checkpoint: " + t.getMessage());
    c.close();
    assertNoLeaks();
  }

  @Test
  void interrupt_duringRetryBackoff_throwsInterruptedPromptly() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(3, Duration.ofMinutes(10), Duration.ofMinutes(10)));
    CountDownLatch failed = new CountDownLatch(1);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1), store, opts("a-intbackoff").failurePolicy(policy).build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            b -> {
              if (b.sequence() == 1) {
                failed.countDown();
                throw new IOException("always");
              }
            });
    assertTrue(failed.await(10, TimeUnit.SECONDS));
    store.awaitSequence(1, WAIT);
    run.owner.interrupt();
    Throwable t = run.awaitFailure(WAIT);
    assertInstanceOf(InterruptedException.class, t);
    assertTrue(run.interruptStatusKept);
    assertEquals(1, store.current().sequence());
    assertNoLeaks();
    c.close();
  }

  @Test
  void interruptStorm_onProcessOwner_endsWithInterrupted_G1Holds() throws Exception {
    long seed = System.nanoTime();
    System.out.println("interruptStorm seed=" + seed);
    Random rnd = new Random(seed);
    Set<Long> settled = ConcurrentHashMap.newKeySet();
    var store = g1Store(settled);
    Collector<Long> c =
        Collecting.open(FakeSource.generated(100_000, 1), store, opts("a-storm").build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            8,
            b -> {
              if (rnd.nextInt(8) == 0) {
                Thread.yield();
              }
              settled.add(b.sequence());
            });
    store.awaitSequence(10, WAIT);
    AtomicBoolean storming = new AtomicBoolean(true);
    CompletableFuture<Boolean> storm =
        async(
            "storm",
            () -> {
              while (storming.get() && !run.isDone()) {
                run.owner.interrupt();
                Thread.onSpinWait();
              }
              return true;
            });
    Throwable t = run.awaitFailure(WAIT);
    storming.set(false);
    storm.get(10, TimeUnit.SECONDS);
    assertInstanceOf(InterruptedException.class, t, "seed=" + seed);
    assertTrue(run.interruptStatusKept, "seed=" + seed);
    store.assertNoViolation();
    assertNoLeaks();
    c.close();
  }

  @Test
  void interrupt_nextWaiter_throwsInterrupted_sessionSurvives() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(FakeSource.generated(5, 1), store, opts("a-intnext").depth(1).build())) {
      Delivery<Long> d0 = c.next();
      assertNotNull(d0);
      AtomicBoolean kept = new AtomicBoolean();
      Thread w =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      c.next();
                    } catch (InterruptedException e) {
                      kept.set(true);
                    }
                  });
      awaitBlocked(w);
      w.interrupt();
      w.join(10_000);
      assertTrue(kept.get(), "next() waiter did not throw InterruptedException");
      assertTrue(d0.ack());
      Delivery<Long> d1 = c.next();
      assertNotNull(d1);
      assertEquals(1, d1.batch().sequence());
      d1.ack();
      assertEquals(2, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- user code that throws

  private static int recurse(int n) {
    return recurse(n + 1) + 1;
  }

  @Test
  void handlerStackOverflow_failsRunWithBatchFailed() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(20, 1), store, opts("a-soe").build());
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    1,
                    b -> {
                      if (b.sequence() == 5) {
                        recurse(0);
                      }
                    }));
    assertEquals(5, e.sequence());
    assertInstanceOf(StackOverflowError.class, e.getCause());
    assertEquals(5, store.current().sequence());
    assertNoLeaks();
    // reuse resumes at 5
    List<Long> seen = new CopyOnWriteList();
    c.process(1, b -> seen.add(b.sequence()));
    assertEquals(5L, seen.get(0));
    c.close();
    assertNoLeaks();
  }

  @Test
  void handlerOutOfMemoryError_failsRunWithBatchFailed() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(20, 1), store, opts("a-oom").build());
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    1,
                    b -> {
                      if (b.sequence() == 7) {
                        throw new OutOfMemoryError("fake");
                      }
                    }));
    assertEquals(7, e.sequence());
    assertInstanceOf(OutOfMemoryError.class, e.getCause());
    assertEquals(7, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void handlerInterruptingItself_isNotCancellation() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(50, 1), store, opts("a-selfint").build());
    ProcessSummary s =
        c.process(
            4,
            b -> {
              Thread.currentThread().interrupt();
            });
    assertFalse(s.stopped());
    assertEquals(50, s.checkpoint().sequence());
    assertFalse(
        Thread.currentThread().isInterrupted(), "a handler's interrupt leaked to the caller");
    c.close();
    assertNoLeaks();
  }

  @Test
  void handlerInterruptingItself_thenRetried_nextAttemptStartsClean() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO));
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1), store, opts("a-selfint2").failurePolicy(policy).build());
    AtomicBoolean interruptedAtStart = new AtomicBoolean();
    ProcessSummary s =
        c.process(
            1,
            b -> {
              if (b.sequence() == 2 && b.attempt() == 1) {
                Thread.currentThread().interrupt();
                throw new IOException("fails and leaves an interrupt");
              }
              if (b.sequence() == 2 && Thread.currentThread().isInterrupted()) {
                interruptedAtStart.set(true);
              }
            });
    assertFalse(interruptedAtStart.get(), "interrupt left by attempt 1 reached attempt 2");
    assertEquals(5, s.checkpoint().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void deadLetterHandlerThrows_batchFailedWithItsCauseAndHandlerFailureSuppressed()
      throws Exception {
    var store = new RecordingCheckpointStore();
    IOException dlFailure = new IOException("dead letter queue down");
    IOException handlerFailure = new IOException("handler failure");
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  throw dlFailure;
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1), store, opts("a-dlthrow").failurePolicy(policy).build());
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    1,
                    b -> {
                      if (b.sequence() == 3) {
                        throw handlerFailure;
                      }
                    }));
    assertSame(dlFailure, e.getCause());
    assertTrue(
        List.of(e.getSuppressed()).contains(handlerFailure)
            || List.of(dlFailure.getSuppressed()).contains(handlerFailure),
        "the handler's failure is attached as suppressed");
    assertEquals(3, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void deadLetterHandlerRethrowsLastFailure_batchFailedWithThatCause() throws Exception {
    var store = new RecordingCheckpointStore();
    IOException handlerFailure = new IOException("handler failure");
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  throw (Exception) e;
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1), store, opts("a-dlrethrow").failurePolicy(policy).build());
    Throwable t = null;
    try {
      c.process(
          1,
          b -> {
            if (b.sequence() == 3) {
              throw handlerFailure;
            }
          });
    } catch (Throwable x) {
      t = x;
    }
    assertInstanceOf(BatchFailedException.class, t, "got " + t);
    assertSame(handlerFailure, t.getCause());
    assertEquals(3, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void deadLetterHandlerBlocks_interruptOfProcessEndsRun() throws Exception {
    var store = new RecordingCheckpointStore();
    CountDownLatch inDl = new CountDownLatch(1);
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  inDl.countDown();
                  new CountDownLatch(1).await();
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1), store, opts("a-dlblock").failurePolicy(policy).build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            2,
            b -> {
              if (b.sequence() == 0) {
                throw new IOException("x");
              }
            });
    assertTrue(inDl.await(10, TimeUnit.SECONDS));
    run.owner.interrupt();
    assertInstanceOf(InterruptedException.class, run.awaitFailure(WAIT));
    assertTrue(run.interruptStatusKept);
    assertEquals(0, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  /** A source whose open (or the reader's next) throws the given throwable, {@code times} times. */
  static final class ThrowingSource implements BatchSource<Long> {
    final FakeSource<Long> delegate = FakeSource.generated(10, 1);
    final Throwable toThrow;
    final boolean inOpen;
    final AtomicInteger remaining;
    final AtomicInteger opens = new AtomicInteger();

    ThrowingSource(Throwable toThrow, boolean inOpen, int times) {
      this.toThrow = toThrow;
      this.inOpen = inOpen;
      this.remaining = new AtomicInteger(times);
    }

    private void maybeThrow() throws Exception {
      if (remaining.getAndDecrement() > 0) {
        if (toThrow instanceof Exception e) {
          throw e;
        }
        throw (Error) toThrow;
      }
    }

    @Override
    public SourceReader<Long> open(String resumeToken) throws Exception {
      opens.incrementAndGet();
      if (inOpen) {
        maybeThrow();
      }
      SourceReader<Long> r = delegate.open(resumeToken);
      return new SourceReader<>() {
        @Override
        public @Nullable SourceBatch<Long> next() throws Exception {
          SourceBatch<Long> b = r.next();
          if (!inOpen && b != null && b.resumeToken().equals("4")) {
            maybeThrow();
          }
          return b;
        }

        @Override
        public void close() throws IOException {
          r.close();
        }
      };
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "checked-open",
        "unchecked-open",
        "error-open",
        "checked-next",
        "unchecked-next",
        "error-next"
      })
  void sourceThrows_retriedThenSourceException_thenReuseResumes(String kind) throws Exception {
    Throwable toThrow =
        kind.startsWith("checked")
            ? new IOException(kind)
            : kind.startsWith("unchecked")
                ? new IllegalStateException(kind)
                : new LinkageError(kind);
    var src = new ThrowingSource(toThrow, kind.endsWith("open"), 2);
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            src,
            store,
            opts("a-src").fetchRetry(Retry.of(2, Duration.ZERO, Duration.ZERO)).build());
    Throwable t = null;
    try {
      c.process(1, b -> {});
    } catch (Throwable x) {
      t = x;
    }
    assertInstanceOf(SourceException.class, t, kind + " got " + t);
    assertSame(toThrow, t.getCause(), kind);
    long durable = store.current().sequence();
    assertNoLeaks();
    // the source heals: the next run resumes at the durable checkpoint and finishes
    List<Long> seen = new CopyOnWriteList();
    ProcessSummary s = c.process(1, b -> seen.add(b.sequence()));
    assertEquals(10, s.checkpoint().sequence(), kind);
    assertEquals(durable, (long) seen.get(0), kind);
    c.close();
    assertNoLeaks();
  }

  @ParameterizedTest
  @ValueSource(strings = {"io", "runtime", "error"})
  void storeCommitThrows_checkpointExceptionNamingDurable_thenReuseResumes(String kind)
      throws Exception {
    var inner = new RecordingCheckpointStore();
    AtomicBoolean broken = new AtomicBoolean(false);
    CheckpointStore store =
        new CheckpointStore() {
          @Override
          public @Nullable Checkpoint load() {
            return inner.load();
          }

          @Override
          public void commit(Checkpoint cp) throws IOException {
            if (cp.sequence() >= 4 && broken.get()) {
              switch (kind) {
                case "io" -> throw new IOException("disk full");
                case "runtime" -> throw new IllegalStateException("driver bug");
                default -> throw new AssertionError("store assertion");
              }
            }
            inner.commit(cp);
          }
        };
    broken.set(true);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1),
            store,
            opts("a-storefail").commitRetry(Retry.of(2, Duration.ZERO, Duration.ZERO)).build());
    Throwable t = null;
    try {
      c.process(1, b -> {});
    } catch (Throwable x) {
      t = x;
    }
    var ce = assertInstanceOf(CheckpointException.class, t, kind + " got " + t);
    assertNotNull(ce.durable(), "names the durable checkpoint");
    assertEquals(inner.current(), ce.durable(), kind);
    assertTrue(
        ce.getMessage().contains(Long.toString(inner.current().sequence())), ce.getMessage());
    assertNoLeaks();
    broken.set(false);
    List<Long> seen = new CopyOnWriteList();
    ProcessSummary s = c.process(1, b -> seen.add(b.sequence()));
    assertEquals(10, s.checkpoint().sequence());
    assertEquals(
        inner.current().sequence() >= 0 ? ce.durable().sequence() : -1, (long) seen.get(0));
    c.close();
    assertNoLeaks();
  }

  @Test
  void storeLoadThrowsRuntime_openThrowsCheckpointException() {
    storeLoadThrows_openThrowsCheckpointException("runtime");
  }

  @Test
  void storeLoadThrowsError_openThrowsCheckpointException() {
    storeLoadThrows_openThrowsCheckpointException("error");
  }

  private void storeLoadThrows_openThrowsCheckpointException(String kind) {
    CheckpointStore store =
        new CheckpointStore() {
          @Override
          public @Nullable Checkpoint load() {
            if (kind.equals("runtime")) {
              throw new IllegalStateException("load broken");
            }
            throw new AssertionError("load broken");
          }

          @Override
          public void commit(Checkpoint cp) {}
        };
    Throwable t = null;
    try {
      Collecting.open(FakeSource.generated(10, 1), store, opts("a-load").build()).close();
    } catch (Throwable x) {
      t = x;
    }
    assertInstanceOf(CheckpointException.class, t, kind + " got " + t);
    assertNoLeaks();
  }

  @Test
  void pullCloseFinalCommitFails_throwsCheckpointExceptionNamingDurable() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1),
            store,
            opts("a-pullfinal")
                .depth(4)
                .commitRetry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                .build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    d0.ack();
    assertEquals(1, c.awaitCommitted().sequence());
    Delivery<Long> d1 = c.next();
    assertNotNull(d1);
    store.crash();
    d1.ack();
    var e = assertThrows(CheckpointException.class, c::close);
    assertNotNull(e.durable());
    assertEquals(1, e.durable().sequence());
    assertTrue(e.getMessage().contains("1"), e.getMessage());
    assertNoLeaks();
  }

  @Test
  void processCrashSwitch_thenRestart_resumesAtDurable_atLeastOnce() throws Exception {
    var store = new RecordingCheckpointStore();
    store.crashAtSequence(7);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(20, 1),
            store,
            opts("a-crash").commitRetry(Retry.of(2, Duration.ZERO, Duration.ZERO)).build());
    Set<Long> handled = ConcurrentHashMap.newKeySet();
    var e =
        assertThrows(CheckpointException.class, () -> c.process(4, b -> handled.add(b.sequence())));
    long durable = store.current().sequence();
    assertTrue(durable < 7);
    assertEquals(durable, e.durable() == null ? -1 : e.durable().sequence());
    c.close();
    assertNoLeaks();
    store.restart();
    List<Long> seen = new CopyOnWriteList();
    try (Collector<Long> c2 =
        Collecting.open(FakeSource.generated(20, 1), store, opts("a-crash2").build())) {
      c2.process(4, b -> seen.add(b.sequence()));
    }
    assertTrue(seen.contains(durable));
    assertFalse(seen.contains(durable - 1) && durable > 0, "replayed below the durable checkpoint");
    assertEquals(20, store.current().sequence());
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- bounds

  @Test
  void concurrencyAboveDepth_boundedByDepth_andInFlightByDepth() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(300, 1), store, opts("a-conc").concurrency(8).build());
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicInteger maxInFlight = new AtomicInteger();
    c.process(
        2,
        b -> {
          int r = running.incrementAndGet();
          maxRunning.accumulateAndGet(r, Math::max);
          maxInFlight.accumulateAndGet(
              (int) (b.sequence() - store.current().sequence() + 1), Math::max);
          Thread.yield();
          running.decrementAndGet();
        });
    assertTrue(maxRunning.get() <= 2, "handlers at once: " + maxRunning.get());
    assertTrue(maxInFlight.get() <= 2, "in flight: " + maxInFlight.get());
    c.close();
    assertNoLeaks();
  }

  @Test
  void concurrencyBelowDepth_runsExactlyThatMany() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(20, 1), store, opts("a-conc3").concurrency(3).build());
    BackgroundRun run = BackgroundRun.start(c, 8, ctl);
    ctl.awaitStartedCount(3, WAIT);
    assertEquals(3, ctl.started().size());
    await().atMost(WAIT).until(() -> c.progress().fetched() >= 3);
    assertTrue(c.progress().running() <= 3, c.progress().toString());
    ctl.release(1);
    ctl.release(2);
    ctl.awaitStartedCount(5, WAIT);
    assertTrue(ctl.started().size() <= 5);
    assertEquals(0, store.current().sequence(), "G1: batch 0 is not settled");
    ctl.releaseAll();
    run.await(WAIT);
    assertEquals(20, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void randomCompletions_G1_G3_progressInvariant() throws Exception {
    long seed = System.nanoTime();
    System.out.println("randomCompletions seed=" + seed);
    Random rnd = new Random(seed);
    Set<Long> settled = ConcurrentHashMap.newKeySet();
    var store = g1Store(settled);
    int depth = 6;
    var policy =
        FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO))
            .thenDeadLetter((b, e) -> settled.add(b.sequence()));
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(2_000, 3),
            store,
            opts("a-random").concurrency(4).failurePolicy(policy).build());
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
    AtomicBoolean sampling = new AtomicBoolean(true);
    CompletableFuture<Boolean> sampler =
        async(
            "sampler",
            () -> {
              while (sampling.get()) {
                Progress p = c.progress();
                if (!(p.committed() <= p.acknowledged() && p.acknowledged() <= p.fetched())
                    || p.running() > 4) {
                  violations.add(p.toString());
                }
              }
              return true;
            });
    ProcessSummary s =
        c.process(
            depth,
            b -> {
              int r = running.incrementAndGet();
              maxRunning.accumulateAndGet(r, Math::max);
              long durable = store.current().sequence();
              if (b.sequence() - durable >= depth) {
                violations.add("G3: batch " + b.sequence() + " fetched while committed " + durable);
              }
              try {
                int k;
                synchronized (rnd) {
                  k = rnd.nextInt(20);
                }
                for (int i = 0; i < k; i++) {
                  Thread.yield();
                }
                if (k == 0) {
                  throw new IOException("random failure");
                }
                settled.add(b.sequence());
              } finally {
                running.decrementAndGet();
              }
            });
    sampling.set(false);
    sampler.get(10, TimeUnit.SECONDS);
    store.assertNoViolation();
    assertEquals(2_000, s.checkpoint().sequence(), "seed=" + seed);
    assertTrue(maxRunning.get() <= 4, "seed=" + seed + " max running " + maxRunning.get());
    assertEquals(List.of(), violations.subList(0, Math.min(5, violations.size())), "seed=" + seed);
    c.close();
    assertNoLeaks();
  }

  @Test
  void maxDepth_processAndPull_smallSource_fastAndSmall() throws Exception {
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long before = rt.totalMemory() - rt.freeMemory();
    var store = new RecordingCheckpointStore();
    List<Collector<Long>> keep = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(10, 1),
              new RecordingCheckpointStore(),
              opts("a-max" + i).depth(CollectorOptions.MAX_DEPTH).build());
      keep.add(c);
      Delivery<Long> d = c.next();
      assertNotNull(d);
    }
    long during = rt.totalMemory() - rt.freeMemory();
    Collector<Long> c = Collecting.open(FakeSource.generated(10, 1), store, opts("a-maxp").build());
    ProcessSummary s = c.process(CollectorOptions.MAX_DEPTH, b -> {});
    assertEquals(10, s.checkpoint().sequence());
    c.close();
    for (Collector<Long> k : keep) {
      k.close();
    }
    long grown = (during - before) / (1024 * 1024);
    System.out.println("4 pull sessions at MAX_DEPTH grew the heap by " + grown + " MiB");
    assertTrue(
        grown < 200,
        "4 idle pull sessions at MAX_DEPTH hold "
            + grown
            + " MiB (G11: constant per in-flight batch)");
    assertThrows(
        IllegalArgumentException.class, () -> c.process(CollectorOptions.MAX_DEPTH + 1, b -> {}));
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- durations

  @ParameterizedTest
  @ValueSource(strings = {"drainTimeout", "batchTimeout", "stuckThreshold", "commitIntervalZero"})
  void hugeDurationOptions_processStillWorks(String option) throws Exception {
    var b = opts("a-huge");
    switch (option) {
      case "drainTimeout" -> b.drainTimeout(HUGE);
      case "batchTimeout" -> b.batchTimeout(HUGE);
      case "stuckThreshold" -> b.stuckThreshold(HUGE);
      default -> b.commitInterval(Duration.ZERO);
    }
    var store = new RecordingCheckpointStore();
    Collector<Long> c = Collecting.open(FakeSource.generated(50, 1), store, b.build());
    ProcessSummary s = c.process(4, x -> {});
    assertEquals(50, s.checkpoint().sequence(), option);
    c.close();
    assertNoLeaks();
  }

  @Test
  void hugeDrainTimeout_stopLetsHandlersFinish() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(50, 1), store, opts("a-hugedrain").drainTimeout(HUGE).build());
    BackgroundRun run = BackgroundRun.start(c, 4, ctl);
    ctl.awaitStartedCount(4, WAIT);
    assertTrue(c.stop());
    ctl.releaseAll();
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped());
    assertEquals(4, s.checkpoint().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void hugeBatchTimeout_withPullAndProcess() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(20, 1),
            store,
            opts("a-hugebt").batchTimeout(HUGE).stuckThreshold(HUGE).build());
    ProcessSummary s = c.process(4, x -> {});
    assertEquals(20, s.checkpoint().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void retryBackoffOverflowingNanos_isNotABatchFailure() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(3, HUGE, HUGE));
    CountDownLatch failed = new CountDownLatch(1);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1), store, opts("a-hugeretry").failurePolicy(policy).build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            b -> {
              if (b.sequence() == 1 && b.attempt() == 1) {
                failed.countDown();
                throw new IOException("transient, the retry would succeed");
              }
            });
    assertTrue(failed.await(10, TimeUnit.SECONDS));
    store.awaitSequence(1, WAIT);
    // The run now waits out the (huge) backoff; close() stops it.
    CompletableFuture<Boolean> closer =
        async(
            "closer",
            () -> {
              c.close();
              return true;
            });
    closer.get(10, TimeUnit.SECONDS);
    ProcessSummary s =
        run.await(WAIT); // observed: BatchFailedException(cause ArithmeticException: long overflow)
    assertTrue(s.stopped(), s.toString());
    assertEquals(1, s.checkpoint().sequence());
    assertNoLeaks();
  }

  @Test
  void dayLongRetryBackoff_closeDuringBackoff_returnsPromptly() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(3, Duration.ofDays(1), Duration.ofDays(1)));
    CountDownLatch failed = new CountDownLatch(1);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1), store, opts("a-dayretry").failurePolicy(policy).build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            b -> {
              if (b.sequence() == 1 && b.attempt() == 1) {
                failed.countDown();
                throw new IOException("transient");
              }
            });
    assertTrue(failed.await(10, TimeUnit.SECONDS));
    store.awaitSequence(1, WAIT);
    c.close();
    assertNoLeaks(); // G4: "After close() returns, no thread of the collector runs"
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped(), s.toString());
    assertTrue(s.checkpoint().sequence() >= 1);
    assertNoLeaks();
  }

  @Test
  void fetchRetryBackoffOverflowingNanos_processThrowsOnlyItsFamilies() throws Exception {
    var store = new RecordingCheckpointStore();
    var src = FakeSource.generated(10, 1).failFetch(3, Integer.MAX_VALUE);
    Collector<Long> c =
        Collecting.open(
            src, store, opts("a-hugefetch").fetchRetry(Retry.of(3, HUGE, HUGE)).build());
    var outcome = new java.util.concurrent.CompletableFuture<Object>();
    Thread caller =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    outcome.complete(c.process(4, b -> {}));
                  } catch (Throwable x) {
                    outcome.complete(x);
                  }
                });
    // a backoff of centuries is what was asked for: the run waits it out, until stopped
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(20))
        .until(() -> c.progress().committed() == 3);
    c.close();
    Object t = outcome.get(20, TimeUnit.SECONDS);
    caller.join();
    // "A run ends in exactly one way: a ProcessSummary, or InterruptedException, or ...
    // BatchFailedException, SourceException or CheckpointException"
    assertTrue(
        t instanceof ProcessSummary || t instanceof SourceException,
        "process() ended outside its families: " + t);
    assertNoLeaks();
  }

  @Test
  void dayLongFetchBackoff_closeDuringBackoff_returnsStoppedPromptly() throws Exception {
    List<String> wrong = new ArrayList<>();
    int iterations = 200;
    for (int it = 0; it < iterations; it++) {
      var store = new RecordingCheckpointStore();
      var src = FakeSource.generated(10, 1).failFetch(3, Integer.MAX_VALUE);
      Collector<Long> c =
          Collecting.open(
              src,
              store,
              opts("a-dayfetch" + it)
                  .fetchRetry(Retry.of(3, Duration.ofDays(1), Duration.ofDays(1)))
                  .build());
      BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
      store.awaitSequence(3, WAIT);
      c.close();
      assertNoLeaks(); // G4: "After close() returns, no thread of the collector runs"
      try {
        ProcessSummary s = run.await(WAIT);
        if (!s.stopped() || s.checkpoint().sequence() != 3) {
          wrong.add("iteration " + it + ": " + s);
        }
      } catch (AssertionError e) {
        wrong.add("iteration " + it + ": process() threw " + e.getCause());
      }
    }
    assertEquals(List.of(), wrong, wrong.size() + " of " + iterations + " iterations");
  }

  @Test
  void nextWithHugeTimeout_waitsAndReturnsDelivery() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(FakeSource.generated(5, 1), store, opts("a-hugenext").build())) {
      Delivery<Long> d = c.next(HUGE);
      assertNotNull(d);
      assertEquals(0, d.batch().sequence());
      d.ack();
      Delivery<Long> z = c.next(Duration.ZERO);
      Delivery<Long> neg = c.next(Duration.ofSeconds(-5));
      if (z != null) {
        z.ack();
      }
      if (neg != null) {
        neg.ack();
      }
    }
    assertNoLeaks();
  }

  @Test
  void commitInterval_long_finalCommitDoesNotLinger() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1),
            store,
            opts("a-linger").commitInterval(Duration.ofHours(1)).build());
    ProcessSummary s = c.process(8, b -> {});
    assertEquals(3, s.checkpoint().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void commitInterval_hugeWithFullWindow_processStillFinishes() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(40, 1), store, opts("a-linger2").commitInterval(HUGE).build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    try {
      ProcessSummary s = run.await(WAIT);
      assertEquals(40, s.checkpoint().sequence());
    } catch (java.util.concurrent.TimeoutException e) {
      fail(
          "process() stalled with a full window: " + c.progress() + ", commits " + store.history());
    } finally {
      c.close();
    }
    assertNoLeaks();
  }

  @Test
  void commitInterval_tenYearsWithFullWindow_processStillFinishes() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(40, 1),
            store,
            opts("a-linger3").commitInterval(Duration.ofDays(3650)).build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    try {
      ProcessSummary s = run.await(WAIT);
      assertEquals(40, s.checkpoint().sequence());
    } catch (java.util.concurrent.TimeoutException e) {
      fail(
          "process() stalled with a full window: " + c.progress() + ", commits " + store.history());
    } finally {
      c.close();
    }
    assertNoLeaks();
  }

  @Test
  void commitInterval_overflowingDuration_smallSource() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1), store, opts("a-linger4").commitInterval(HUGE).build());
    BackgroundRun run = BackgroundRun.start(c, 8, b -> {});
    try {
      ProcessSummary s = run.await(WAIT);
      assertEquals(3, s.checkpoint().sequence());
    } finally {
      c.close();
    }
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- pull API

  @Test
  void pullConcurrencyLimit_thirdDeliveryWaitsForASettle() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(20, 1), store, opts("a-pconc").depth(8).concurrency(2).build())) {
      Delivery<Long> d0 = c.next();
      Delivery<Long> d1 = c.next();
      assertNotNull(d0);
      assertNotNull(d1);
      await().atMost(WAIT).until(() -> c.progress().fetched() >= 3);
      assertNull(c.tryNext(), "a third unsettled delivery with concurrency 2");
      assertNull(c.next(Duration.ofMillis(50)));
      assertTrue(d1.ack());
      Delivery<Long> d2 = c.next(WAIT);
      assertNotNull(d2);
      assertEquals(2, d2.batch().sequence());
      assertEquals(0, c.awaitCommitted().sequence(), "G1: batch 0 unsettled");
      d0.ack();
      d2.ack();
      assertEquals(3, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  @Test
  void pullWindow_outOfOrderAcks_neverMoreThanDepthUncommitted() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(FakeSource.generated(20, 1), store, opts("a-pwin").depth(3).build())) {
      Delivery<Long> d0 = c.next();
      Delivery<Long> d1 = c.next();
      Delivery<Long> d2 = c.next();
      assertNotNull(d0);
      assertNotNull(d1);
      assertNotNull(d2);
      d2.ack();
      d1.ack();
      assertEquals(
          0, c.awaitCommitted().sequence(), "awaitCommitted must not wait behind unacked batch 0");
      assertNull(c.next(Duration.ofMillis(50)), "G3: a 4th batch while 3 are uncommitted");
      Progress p = c.progress();
      assertTrue(p.fetched() - p.committed() <= 3, p.toString());
      assertEquals(2, p.waiting(), p.toString());
      d0.ack();
      assertEquals(3, c.awaitCommitted().sequence());
      Delivery<Long> d3 = c.next(WAIT);
      assertNotNull(d3);
      assertEquals(3, d3.batch().sequence());
      d3.ack();
    }
    assertNoLeaks();
  }

  @Test
  void failInsideDeadLetterHandler_racingClose_consistentOutcome() throws Exception {
    var store = new RecordingCheckpointStore();
    CountDownLatch inDl = new CountDownLatch(1);
    CountDownLatch releaseDl = new CountDownLatch(1);
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  inDl.countDown();
                  releaseDl.await();
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            store,
            opts("a-dlclose2").depth(4).failurePolicy(policy).build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    CompletableFuture<Boolean> failer = async("failer", () -> d0.fail(new IOException("x")));
    assertTrue(inDl.await(10, TimeUnit.SECONDS));
    CompletableFuture<Boolean> closer =
        async(
            "closer",
            () -> {
              c.close();
              return true;
            });
    // close either waits for the dead-letter handler or ends the session under it
    await().atMost(WAIT).until(() -> closer.isDone() || c.progress() != null);
    releaseDl.countDown();
    closer.get(10, TimeUnit.SECONDS);
    boolean failCounted;
    try {
      failCounted = failer.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertTrue(
          e.getCause() instanceof dev.collector.StaleDeliveryException
              || e.getCause() instanceof CollectorClosedException,
          "fail() threw " + e.getCause());
      failCounted = false;
    }
    if (!failCounted) {
      assertEquals(0, store.current().sequence(), "G1: batch 0 not settled but committed past");
    }
    assertNoLeaks();
  }

  @Test
  void strictMode_outOfOrderAck_throwsAndChangesNothing() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            store,
            opts("a-strict").depth(4).ackOrdering(dev.collector.AckOrdering.STRICT).build())) {
      Delivery<Long> d0 = c.next();
      Delivery<Long> d1 = c.next();
      assertNotNull(d0);
      assertNotNull(d1);
      var e = assertThrows(dev.collector.OutOfOrderAckException.class, d1::ack);
      assertTrue(
          e.getMessage().contains("batch 1") && e.getMessage().contains("batch 0"), e.getMessage());
      assertEquals(List.of(), store.history());
      assertTrue(d0.ack());
      assertTrue(d1.ack(), "the refused ack may be repeated in order");
      assertEquals(2, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  @Test
  void interruptedCloser_duringSlowFinalCommit_commitsAndKeepsInterruptStatus() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.blockAt = 2;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), gate, opts("a-intclose").depth(4).build());
    Delivery<Long> d0 = c.next();
    Delivery<Long> d1 = c.next();
    assertNotNull(d0);
    assertNotNull(d1);
    AtomicBoolean statusKept = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Thread closer =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    d0.ack();
                    d1.ack();
                    c.close();
                  } catch (Throwable t) {
                    thrown.set(t);
                  }
                  statusKept.set(Thread.currentThread().isInterrupted());
                });
    assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
    closer.interrupt();
    gate.open.countDown();
    closer.join(10_000);
    assertFalse(closer.isAlive());
    assertNull(thrown.get(), "close() threw " + thrown.get());
    assertEquals(2, gate.inner.current().sequence(), "G9: final commit dropped");
    assertTrue(statusKept.get(), "G5: the closer's interrupt status was swallowed");
    assertNoLeaks();
  }

  @Test
  void tryNextRacingClose_onlyNullDeliveryOrClosed() throws Exception {
    for (int it = 0; it < 20; it++) {
      var store = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(1000, 1), store, opts("a-trc" + it).depth(64).build());
      AtomicBoolean go = new AtomicBoolean(true);
      List<CompletableFuture<Integer>> fs = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        fs.add(
            async(
                "puller",
                () -> {
                  int n = 0;
                  while (go.get()) {
                    try {
                      Delivery<Long> d = c.tryNext();
                      if (d != null) {
                        n++;
                        try {
                          d.ack();
                        } catch (CollectorClosedException e) {
                          return n;
                        }
                      }
                    } catch (CollectorClosedException e) {
                      return n;
                    }
                  }
                  return n;
                }));
      }
      await().atMost(WAIT).until(() -> c.progress().fetched() >= 5);
      c.close();
      go.set(false);
      for (CompletableFuture<Integer> f : fs) {
        f.get(10, TimeUnit.SECONDS);
      }
      store.assertNoViolation();
      assertNoLeaks();
    }
  }

  @Test
  void pullStress_manyConsumers_randomAckFail_G1_oneOutstandingPerBatch() throws Exception {
    long seed = System.nanoTime();
    System.out.println("pullStress seed=" + seed);
    Set<Long> settled = ConcurrentHashMap.newKeySet();
    var store = g1Store(settled);
    var policy =
        FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ofMillis(1)))
            .thenDeadLetter((b, e) -> settled.add(b.sequence()));
    int n = 600;
    Set<Long> outstanding = ConcurrentHashMap.newKeySet();
    List<String> problems = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(n, 1),
            store,
            opts("a-pstress").depth(16).concurrency(6).failurePolicy(policy).build())) {
      List<CompletableFuture<Boolean>> fs = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        long s = seed + t;
        fs.add(
            async(
                "consumer",
                () -> {
                  Random rnd = new Random(s);
                  while (true) {
                    Delivery<Long> d = c.next(Duration.ofSeconds(5));
                    if (d == null) {
                      return c.isExhausted();
                    }
                    long seq = d.batch().sequence();
                    if (!outstanding.add(seq)) {
                      problems.add("batch " + seq + " delivered twice at once");
                    }
                    if (rnd.nextInt(5) == 0) {
                      outstanding.remove(seq);
                      d.fail(new IOException("random"));
                    } else {
                      settled.add(seq);
                      outstanding.remove(seq);
                      d.ack();
                    }
                  }
                }));
      }
      for (CompletableFuture<Boolean> f : fs) {
        assertTrue(
            f.get(20, TimeUnit.SECONDS), "a consumer timed out before exhaustion, seed=" + seed);
      }
      assertEquals(n, c.awaitCommitted().sequence(), "seed=" + seed);
    }
    store.assertNoViolation();
    assertEquals(List.of(), problems, "seed=" + seed);
    assertNoLeaks();
  }

  @Test
  void tryNext_fromStoreCommit_neverBlocks() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    List<Throwable> fromStore = new java.util.concurrent.CopyOnWriteArrayList<>();
    gate.onCommit =
        cp -> {
          Collector<Long> c = ref.get();
          if (c != null) {
            try {
              c.progress();
              c.tryNext();
            } catch (Throwable t) {
              fromStore.add(t);
            }
          }
        };
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), gate, opts("a-storenext").depth(4).build());
    ref.set(c);
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    d0.ack();
    CompletableFuture<Checkpoint> cp = async("awaiter", c::awaitCommitted);
    assertTrue(
        cp.get(10, TimeUnit.SECONDS).sequence() >= 1,
        "commit calling tryNext() stalled the session");
    CompletableFuture<Boolean> closer =
        async(
            "closer",
            () -> {
              c.close();
              return true;
            });
    assertTrue(closer.get(10, TimeUnit.SECONDS));
    System.out.println("tryNext from the store's commit threw: " + fromStore);
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- more process attacks

  @Test
  void handlerSwallowingCancelInterrupt_processStillThrowsInterrupted() throws Exception {
    var store = new RecordingCheckpointStore();
    CountDownLatch started = new CountDownLatch(2);
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), store, opts("a-swallow").build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            2,
            b -> {
              started.countDown();
              try {
                new CountDownLatch(1).await();
              } catch (InterruptedException e) {
                // swallowed: return normally
              }
            });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    run.owner.interrupt();
    Throwable t = run.awaitFailure(WAIT);
    assertInstanceOf(InterruptedException.class, t);
    assertTrue(run.interruptStatusKept);
    store.assertNoViolation();
    c.close();
    assertNoLeaks();
  }

  @Test
  void summaryCounts_withRetriesAndDeadLetters_areExact() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicInteger dl = new AtomicInteger();
    var policy =
        FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
            .thenDeadLetter((b, e) -> dl.incrementAndGet());
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(30, 2), store, opts("a-summary").failurePolicy(policy).build());
    ProcessSummary s =
        c.process(
            4,
            b -> {
              if (b.sequence() == 3 || b.sequence() == 7) {
                throw new IOException("poison " + b.sequence());
              }
              if (b.sequence() == 11 && b.attempt() == 1) {
                throw new IOException("transient");
              }
            });
    assertEquals(30, s.batches(), s.toString());
    assertEquals(60, s.records(), s.toString());
    assertEquals(2, s.deadLettered(), s.toString());
    assertEquals(2, dl.get());
    assertEquals(30, s.checkpoint().sequence());
    assertFalse(s.stopped());
    assertEquals(0, s.uncommitted());
    assertTrue(s.commits() >= 1 && s.commits() <= 30, s.toString());
    assertEquals(s.commits(), store.history().size());
    c.close();
    assertNoLeaks();
  }

  @Test
  void emptyBatches_areHandledAndCommitted() throws Exception {
    var store = new RecordingCheckpointStore();
    List<List<Long>> batches =
        List.of(List.of(1L), List.of(), List.of(2L, 3L), List.of(), List.of());
    Collector<Long> c = Collecting.open(FakeSource.of(batches), store, opts("a-empty").build());
    List<Long> seen = new CopyOnWriteList();
    ProcessSummary s = c.process(2, b -> seen.add(b.sequence()));
    assertEquals(5, s.checkpoint().sequence());
    assertEquals(5, seen.size());
    assertEquals(3, s.records());
    c.close();
    assertNoLeaks();
  }

  @Test
  void stop_fromDeadLetterHandler_returnsStopped() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    var policy = FailurePolicy.failFast().thenDeadLetter((b, e) -> ref.get().stop());
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10_000, 1), store, opts("a-dlstop").failurePolicy(policy).build());
    ref.set(c);
    ProcessSummary s =
        c.process(
            4,
            b -> {
              if (b.sequence() == 5) {
                throw new IOException("5");
              }
            });
    assertTrue(s.stopped(), s.toString());
    assertEquals(1, s.deadLettered(), s.toString());
    assertTrue(s.checkpoint().sequence() >= 6, s.toString());
    c.close();
    assertNoLeaks();
  }

  @Test
  void process_fromDeadLetterHandler_isAMisuseNotAHang() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> fromProcess = new AtomicReference<>();
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  try {
                    ref.get().process(1, x -> {});
                  } catch (Throwable t) {
                    fromProcess.set(t);
                  }
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1), store, opts("a-dlproc").failurePolicy(policy).build());
    ref.set(c);
    CompletableFuture<ProcessSummary> run =
        async(
            "proc",
            () ->
                c.process(
                    2,
                    b -> {
                      if (b.sequence() == 1) {
                        throw new IOException("1");
                      }
                    }));
    ProcessSummary s = run.get(10, TimeUnit.SECONDS);
    assertEquals(10, s.checkpoint().sequence());
    assertInstanceOf(
        dev.collector.MisuseException.class, fromProcess.get(), "got " + fromProcess.get());
    c.close();
    assertNoLeaks();
  }

  @Test
  void batchTimeout_firesOnHungHandler_thenDeadLetters() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicReference<@Nullable Throwable> last = new AtomicReference<>();
    var policy = FailurePolicy.failFast().thenDeadLetter((b, e) -> last.set(e));
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            store,
            opts("a-btimeout").batchTimeout(Duration.ofMillis(100)).failurePolicy(policy).build());
    ProcessSummary s =
        c.process(
            2,
            b -> {
              if (b.sequence() == 2) {
                new CountDownLatch(1).await();
              }
            });
    assertEquals(5, s.checkpoint().sequence());
    assertEquals(1, s.deadLettered());
    assertInstanceOf(java.util.concurrent.TimeoutException.class, last.get());
    c.close();
    assertNoLeaks();
  }

  @Test
  void stop_racingSourceExhaustion_neverLosesFinalCommit() throws Exception {
    for (int it = 0; it < 30; it++) {
      var store = new RecordingCheckpointStore();
      Collector<Long> c =
          Collecting.open(FakeSource.generated(20, 1), store, opts("a-stoprace" + it).build());
      CompletableFuture<ProcessSummary> run = async("proc", () -> c.process(4, b -> {}));
      while (!run.isDone()) {
        c.stop();
        Thread.onSpinWait();
      }
      ProcessSummary s = run.get(10, TimeUnit.SECONDS);
      assertEquals(store.current(), s.checkpoint(), "iteration " + it + " " + s);
      if (!s.stopped()) {
        assertEquals(20, s.checkpoint().sequence());
      }
      c.close();
      assertNoLeaks();
    }
  }

  @Test
  void progress_inFlightNeverExceedsCapacity() throws Exception {
    var store = new RecordingCheckpointStore();
    int depth = 6;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(20_000, 1), store, opts("a-progress").build());
    List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
    AtomicBoolean sampling = new AtomicBoolean(true);
    CompletableFuture<Boolean> sampler =
        async(
            "sampler",
            () -> {
              while (sampling.get()) {
                Progress p = c.progress();
                if (p.inFlight() > p.capacity() && p.capacity() > 0 || p.inFlight() > depth) {
                  violations.add(p.toString());
                }
              }
              return true;
            });
    c.process(depth, b -> Thread.yield());
    sampling.set(false);
    sampler.get(10, TimeUnit.SECONDS);
    c.close();
    assertEquals(
        List.of(),
        violations.subList(0, Math.min(3, violations.size())),
        violations.size() + " bad samples");
    assertNoLeaks();
  }

  @Test
  void dayLongFetchBackoff_stopDuringBackoff_returnsStoppedSummary() throws Exception {
    var store = new RecordingCheckpointStore();
    var src = FakeSource.generated(10, 1).failFetch(3, Integer.MAX_VALUE);
    Collector<Long> c =
        Collecting.open(
            src,
            store,
            opts("a-dayfetch2")
                .fetchRetry(Retry.of(3, Duration.ofDays(1), Duration.ofDays(1)))
                .build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    store.awaitSequence(3, WAIT);
    assertTrue(c.stop());
    Throwable t = null;
    ProcessSummary s = null;
    try {
      s = run.await(WAIT);
    } catch (AssertionError e) {
      t = e.getCause();
    }
    assertNull(t, "stop() during a fetch backoff: process() threw " + t);
    assertNotNull(s);
    assertTrue(s.stopped(), s.toString());
    assertEquals(3, s.checkpoint().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void progress_inFlightNeverExceedsCapacity_underRetries() throws Exception {
    long seed = System.nanoTime();
    System.out.println("progress_inFlight seed=" + seed);
    Random rnd = new Random(seed);
    int depth = 6;
    List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int round = 0; round < 3; round++) {
      var store = new RecordingCheckpointStore();
      var policy =
          FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO))
              .thenDeadLetter((b, e) -> {});
      Collector<Long> c =
          Collecting.open(
              FakeSource.generated(2_000, 3),
              store,
              opts("a-progress2").concurrency(4).failurePolicy(policy).build());
      AtomicBoolean sampling = new AtomicBoolean(true);
      CompletableFuture<Boolean> sampler =
          async(
              "sampler",
              () -> {
                while (sampling.get()) {
                  Progress p = c.progress();
                  if (p.inFlight() > depth || p.capacity() > 0 && p.inFlight() > p.capacity()) {
                    violations.add(p.toString());
                  }
                }
                return true;
              });
      c.process(
          depth,
          b -> {
            int k;
            synchronized (rnd) {
              k = rnd.nextInt(20);
            }
            for (int i = 0; i < k; i++) {
              Thread.yield();
            }
            if (k == 0) {
              throw new IOException("random failure");
            }
          });
      sampling.set(false);
      sampler.get(10, TimeUnit.SECONDS);
      c.close();
    }
    assertEquals(
        List.of(),
        violations.subList(0, Math.min(3, violations.size())),
        violations.size() + " bad samples, seed=" + seed);
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- round 3

  @Test
  void awaitCommittedAndTryNext_fromProcessHandler_doNotHang() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), store, opts("a-hawait").build());
    List<String> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletableFuture<ProcessSummary> run =
        async(
            "proc",
            () ->
                c.process(
                    2,
                    b -> {
                      if (b.sequence() == 3) {
                        try {
                          outcomes.add("awaitCommitted=" + c.awaitCommitted());
                        } catch (RuntimeException e) {
                          outcomes.add("awaitCommitted threw " + e);
                        }
                        try {
                          outcomes.add("tryNext=" + c.tryNext());
                        } catch (RuntimeException e) {
                          outcomes.add("tryNext threw " + e.getClass().getSimpleName());
                        }
                        outcomes.add("exhausted=" + c.isExhausted());
                      }
                    }));
    ProcessSummary s = run.get(10, TimeUnit.SECONDS);
    assertEquals(10, s.checkpoint().sequence());
    System.out.println("from a handler: " + outcomes);
    assertTrue(
        outcomes.get(1).contains("ReentrantCallException")
            || outcomes.get(1).contains("ConcurrentUseException"),
        outcomes.toString());
    c.close();
    assertNoLeaks();
  }

  @Test
  void interrupt_duringBlockingSourceOpen_throwsInterrupted() throws Exception {
    var store = new RecordingCheckpointStore();
    CountDownLatch inOpen = new CountDownLatch(1);
    BatchSource<Long> src =
        token -> {
          inOpen.countDown();
          new CountDownLatch(1).await();
          throw new AssertionError("unreachable");
        };
    Collector<Long> c = Collecting.open(src, store, opts("a-intopen").build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    assertTrue(inOpen.await(10, TimeUnit.SECONDS));
    run.owner.interrupt();
    Throwable t = run.awaitFailure(WAIT);
    assertInstanceOf(InterruptedException.class, t, "got " + t);
    assertTrue(run.interruptStatusKept);
    c.close();
    assertNoLeaks();
  }

  @Test
  void close_duringBlockingSourceOpen_returnsStopped() throws Exception {
    var store = new RecordingCheckpointStore();
    CountDownLatch inOpen = new CountDownLatch(1);
    BatchSource<Long> src =
        token -> {
          inOpen.countDown();
          new CountDownLatch(1).await();
          throw new AssertionError("unreachable");
        };
    Collector<Long> c = Collecting.open(src, store, opts("a-closeopen").build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    assertTrue(inOpen.await(10, TimeUnit.SECONDS));
    c.close();
    assertNoLeaks();
    Throwable t = null;
    ProcessSummary s = null;
    try {
      s = run.await(WAIT);
    } catch (AssertionError e) {
      t = e.getCause();
    }
    assertNull(t, "close() during a blocked open(): process() threw " + t);
    assertTrue(s.stopped(), s.toString());
  }

  @Test
  void pullSourceFailure_reportedOnce_thenNewSessionResumes() throws Exception {
    var store = new RecordingCheckpointStore();
    var src = FakeSource.generated(6, 1).failFetch(2, 2);
    try (Collector<Long> c =
        Collecting.open(
            src,
            store,
            opts("a-psrc")
                .depth(4)
                .fetchRetry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                .build())) {
      int sourceFailures = 0;
      List<Long> rest = new ArrayList<>();
      while (true) {
        Delivery<Long> d;
        try {
          d = c.next(WAIT);
        } catch (SourceException e) {
          sourceFailures++;
          continue;
        }
        if (d == null) {
          break;
        }
        rest.add(d.batch().sequence());
        d.ack();
      }
      assertTrue(c.isExhausted());
      assertEquals(1, sourceFailures, "the source failure is reported once: " + rest);
      assertEquals(5L, (long) rest.get(rest.size() - 1));
      assertTrue(rest.containsAll(List.of(0L, 1L, 2L, 3L, 4L, 5L)), rest.toString());
      assertEquals(6, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  @Test
  void pullCommitFailure_awaitCommittedThrows_nextReportsOnce() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(6, 1),
            store,
            opts("a-pcommit")
                .depth(4)
                .commitRetry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                .build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    store.failNextCommits(2);
    d0.ack();
    CompletableFuture<Checkpoint> awaiter = async("awaiter", c::awaitCommitted);
    Throwable t = failureOf(awaiter);
    assertInstanceOf(CheckpointException.class, t);
    assertThrows(CheckpointException.class, c::next);
    Delivery<Long> again = c.next(WAIT);
    assertNotNull(again);
    assertEquals(0, again.batch().sequence(), "the new session starts at the durable checkpoint");
    again.ack();
    assertEquals(1, c.awaitCommitted().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void interrupt_awaitCommittedCaller_throwsInterrupted() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.blockAt = 1;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(6, 1), gate, opts("a-intawait").depth(4).build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    d0.ack();
    assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
    AtomicBoolean gotIe = new AtomicBoolean();
    Thread w =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    c.awaitCommitted();
                  } catch (InterruptedException e) {
                    gotIe.set(Thread.currentThread().isInterrupted() || true);
                  }
                });
    awaitBlocked(w);
    w.interrupt();
    w.join(10_000);
    assertTrue(gotIe.get());
    gate.open.countDown();
    c.close();
    assertEquals(1, gate.inner.current().sequence());
    assertNoLeaks();
  }

  @Test
  void batchTimeout_failFast_throwsBatchFailedWithTimeout() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            store,
            opts("a-bt2").batchTimeout(Duration.ofMillis(100)).build());
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    1,
                    b -> {
                      if (b.sequence() == 2) {
                        new CountDownLatch(1).await();
                      }
                    }));
    assertEquals(2, e.sequence());
    assertInstanceOf(java.util.concurrent.TimeoutException.class, e.getCause());
    assertEquals(2, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void deliveryClose_afterCollectorClose_neverThrows() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(6, 1), store, opts("a-dcc").depth(4).build());
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    c.close();
    d0.close();
    d0.close();
    assertEquals(0, store.current().sequence());
    assertNoLeaks();
  }

  @Test
  void interruptProcess_whileHandlersHeld_commitsExactSettledPrefix() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(50, 1), store, opts("a-intheld").build());
    BackgroundRun run = BackgroundRun.start(c, 8, ctl);
    ctl.awaitStartedCount(8, WAIT);
    ctl.release(0);
    ctl.release(1);
    ctl.release(3);
    ctl.awaitFinished(3, WAIT);
    store.awaitSequence(2, WAIT);
    run.owner.interrupt();
    assertInstanceOf(InterruptedException.class, run.awaitFailure(WAIT));
    assertTrue(run.interruptStatusKept);
    assertEquals(2, store.current().sequence(), "G1/G5: exactly the settled prefix");
    List<Long> seen = new CopyOnWriteList();
    c.process(1, b -> seen.add(b.sequence()));
    assertEquals(2L, seen.get(0));
    c.close();
    assertNoLeaks();
  }

  @Test
  void close_fromStoreCommit_duringPullSession_doesNotDeadlock() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> closeOutcome = new AtomicReference<>();
    AtomicBoolean once = new AtomicBoolean();
    gate.onCommit =
        cp -> {
          Collector<Long> c = ref.get();
          if (c != null && once.compareAndSet(false, true)) {
            try {
              c.close();
            } catch (Throwable t) {
              closeOutcome.set(t);
            }
          }
        };
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), gate, opts("a-pclosestore").depth(4).build());
    ref.set(c);
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    d0.ack();
    CompletableFuture<Boolean> closer =
        async(
            "closer",
            () -> {
              c.close();
              return true;
            });
    try {
      closer.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      fail(
          "close() from the store's commit in a pull session deadlocked: "
              + CollectorLeakCheck.liveCollectorThreads());
    }
    System.out.println("close() from the store's commit: " + closeOutcome.get());
    assertNoLeaks();
  }

  @Test
  void awaitCommitted_afterProcess_returnsTheRunsDurableCheckpoint() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), store, opts("a-awaitafter").build());
    ProcessSummary s = c.process(2, b -> {});
    assertEquals(10, s.checkpoint().sequence());
    // "Without a pull session it returns the committed checkpoint at once."
    assertEquals(s.checkpoint(), c.awaitCommitted(), "awaitCommitted() after process() returned");
    c.close();
    assertNoLeaks();
  }

  @Test
  void awaitCommitted_fromProcessHandler_isNotBelowDurable() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), store, opts("a-awaitin").build());
    List<String> bad = new java.util.concurrent.CopyOnWriteArrayList<>();
    c.process(
        1,
        b -> {
          long durable = store.current().sequence();
          Checkpoint cp = c.awaitCommitted();
          if (cp.sequence() < durable) {
            bad.add(
                "batch "
                    + b.sequence()
                    + ": awaitCommitted()="
                    + cp.sequence()
                    + " < durable "
                    + durable);
          }
        });
    assertEquals(List.of(), bad);
    c.close();
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- interrupts left by user code

  @Test
  void handlerInterruptsItselfThenThrowsInterrupted_isAFailureNotCancellation() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), store, opts("a-selfie").build());
    CompletableFuture<ProcessSummary> run =
        async(
            "proc",
            () ->
                c.process(
                    1,
                    b -> {
                      if (b.sequence() == 2) {
                        Thread.currentThread().interrupt();
                        Thread.sleep(
                            1); // throws InterruptedException: the run never interrupted it
                      }
                    }));
    Throwable t = failureOf(run);
    var e = assertInstanceOf(BatchFailedException.class, t, "got " + t);
    assertEquals(2, e.sequence());
    assertInstanceOf(InterruptedException.class, e.getCause());
    assertEquals(2, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void sourceLeavingInterruptOnFetchingThread_doesNotCancelTheRun() throws Exception {
    var store = new RecordingCheckpointStore();
    FakeSource<Long> fake = FakeSource.generated(10, 1);
    BatchSource<Long> src =
        token -> {
          SourceReader<Long> r = fake.open(token);
          return new SourceReader<>() {
            @Override
            public @Nullable SourceBatch<Long> next() throws Exception {
              SourceBatch<Long> b = r.next();
              if (b != null && b.resumeToken().equals("3")) {
                Thread.currentThread().interrupt(); // a sloppy client library
              }
              return b;
            }

            @Override
            public void close() throws IOException {
              r.close();
            }
          };
        };
    Collector<Long> c = Collecting.open(src, store, opts("a-srcint").build());
    CompletableFuture<ProcessSummary> run = async("proc", () -> c.process(4, b -> {}));
    ProcessSummary s;
    try {
      s = run.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(
          "the caller was never interrupted, yet process() threw " + e.getCause(), e.getCause());
    }
    assertEquals(10, s.checkpoint().sequence(), s.toString());
    c.close();
    assertNoLeaks();
  }

  @Test
  void storeLeavingInterruptOnCommittingThread_doesNotCancelTheRun() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.onCommit =
        cp -> {
          if (cp.sequence() == 2) {
            Thread.currentThread().interrupt();
          }
        };
    Collector<Long> c =
        Collecting.open(FakeSource.generated(10, 1), gate, opts("a-storeint").build());
    CompletableFuture<ProcessSummary> run = async("proc", () -> c.process(1, b -> {}));
    ProcessSummary s;
    try {
      s = run.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(
          "the caller was never interrupted, yet process() threw " + e.getCause(), e.getCause());
    }
    assertEquals(10, s.checkpoint().sequence(), s.toString());
    assertEquals(10, gate.inner.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void pullStoreLeavingInterrupt_sessionGoesOn() throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.onCommit =
        cp -> {
          if (cp.sequence() == 1) {
            Thread.currentThread().interrupt();
          }
        };
    try (Collector<Long> c =
        Collecting.open(FakeSource.generated(5, 1), gate, opts("a-pstoreint").depth(2).build())) {
      for (int i = 0; i < 5; i++) {
        Delivery<Long> d = c.next(WAIT);
        assertNotNull(d, "batch " + i);
        d.ack();
      }
      assertEquals(5, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  @Test
  void interruptStorm_onNextWaiters_noDeliveryLost() throws Exception {
    long seed = System.nanoTime();
    System.out.println("nextStorm seed=" + seed);
    var store = new RecordingCheckpointStore();
    int n = 300;
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(n, 1).fetchLatency(Duration.ofMillis(1)),
            store,
            opts("a-nstorm").depth(2).concurrency(1).build())) {
      AtomicBoolean storming = new AtomicBoolean(true);
      AtomicInteger interrupts = new AtomicInteger();
      Set<Long> got = ConcurrentHashMap.newKeySet();
      Thread consumer =
          Thread.ofPlatform()
              .name("consumer")
              .start(
                  () -> {
                    while (true) {
                      try {
                        Delivery<Long> d = c.next();
                        if (d == null) {
                          return;
                        }
                        got.add(d.batch().sequence());
                        while (true) {
                          try {
                            d.ack();
                            break;
                          } catch (RuntimeException e) {
                            throw e;
                          }
                        }
                      } catch (InterruptedException e) {
                        interrupts.incrementAndGet();
                      }
                    }
                  });
      Random rnd = new Random(seed);
      CompletableFuture<Boolean> storm =
          async(
              "storm",
              () -> {
                while (storming.get() && consumer.isAlive()) {
                  consumer.interrupt();
                  for (int i = rnd.nextInt(2000); i > 0; i--) {
                    Thread.onSpinWait();
                  }
                }
                return true;
              });
      consumer.join(20_000);
      storming.set(false);
      storm.get(10, TimeUnit.SECONDS);
      assertFalse(
          consumer.isAlive(),
          "consumer stalled: a delivery was lost to an interrupted next(); "
              + c.progress()
              + " seed="
              + seed);
      System.out.println("next() storm: " + interrupts.get() + " interrupts");
      assertEquals(n, got.size(), "seed=" + seed);
      assertEquals(n, c.awaitCommitted().sequence(), "seed=" + seed);
    }
    assertNoLeaks();
  }

  @Test
  void close_duringInterruptiblyBlockedFetch_returnsStoppedSummary() throws Exception {
    var store = new RecordingCheckpointStore();
    var src = new BlockingSource(3);
    Collector<Long> c = Collecting.open(src, store, opts("a-closefetch").build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    assertTrue(src.blocked.await(10, TimeUnit.SECONDS));
    store.awaitSequence(3, WAIT);
    c.close();
    assertNoLeaks();
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped(), s.toString());
    assertEquals(3, s.checkpoint().sequence());
  }

  // ---------------------------------------------------------------- round 4

  @Test
  void interruptDuringFinalCommit_thatThenFails_throwsInterruptedWithCheckpointSuppressed()
      throws Exception {
    var gate = new GateStore(new RecordingCheckpointStore());
    gate.blockAt = 3;
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1), gate, opts("a-intfail").commitRetry(Retry.NONE).build());
    BackgroundRun run = BackgroundRun.start(c, 4, b -> {});
    assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
    run.owner.interrupt();
    awaitBlocked(run.owner);
    gate.inner.crash();
    gate.open.countDown();
    Throwable t = run.awaitFailure(WAIT);
    // "InterruptedException (the caller was interrupted; any run failure is attached as
    // suppressed)"
    assertInstanceOf(InterruptedException.class, t, "got " + t);
    assertTrue(run.interruptStatusKept);
    assertTrue(
        List.of(t.getSuppressed()).stream().anyMatch(x -> x instanceof CheckpointException),
        "the failed final commit is attached: " + List.of(t.getSuppressed()));
    c.close();
    assertNoLeaks();
  }

  @Test
  void waitingBatchesHoldNoRecords_G11() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    int batches = 4_000;
    Collector<Long> c =
        Collecting.open(FakeSource.generated(batches + 1, 1_000), store, opts("a-g11").build());
    CountDownLatch othersDone = new CountDownLatch(batches - 1);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            batches,
            b -> {
              if (b.sequence() == 0) {
                ctl.handle(b); // held: every later batch finishes and waits for it
              } else {
                othersDone.countDown();
              }
            });
    assertTrue(othersDone.await(20, TimeUnit.SECONDS));
    await().atMost(WAIT).until(() -> c.progress().waiting() >= batches - 1);
    Runtime rt = Runtime.getRuntime();
    System.gc();
    System.gc();
    long used = (rt.totalMemory() - rt.freeMemory()) / (1024 * 1024);
    System.out.println("G11: " + c.progress() + " heap used " + used + " MiB");
    ctl.releaseAll();
    run.await(WAIT);
    c.close();
    // 4 000 waiting batches of 1 000 boxed longs would be > 60 MiB if their records were kept
    assertTrue(used < 60, "waiting batches seem to keep their records: heap " + used + " MiB");
    assertNoLeaks();
  }

  @Test
  void pullDeadLetterHandler_ackingItsOwnDelivery_getsConflictingOutcome() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicReference<@Nullable Delivery<Long>> ref = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> fromAck = new AtomicReference<>();
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  try {
                    ref.get().ack();
                  } catch (Throwable t) {
                    fromAck.set(t);
                  }
                });
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1),
            store,
            opts("a-dlselfack").depth(2).failurePolicy(policy).build())) {
      Delivery<Long> d0 = c.next();
      assertNotNull(d0);
      ref.set(d0);
      CompletableFuture<Boolean> f = async("failer", () -> d0.fail(new IOException("x")));
      assertTrue(
          f.get(10, TimeUnit.SECONDS),
          "fail() with a dead-letter handler that acks the delivery deadlocked or lost");
      assertInstanceOf(ConflictingOutcomeException.class, fromAck.get(), "got " + fromAck.get());
      assertEquals(1, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  @Test
  void pullDeadLetterHandler_closingTheCollector_doesNotDeadlock() throws Exception {
    var store = new RecordingCheckpointStore();
    AtomicReference<@Nullable Collector<Long>> ref = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> fromClose = new AtomicReference<>();
    var policy =
        FailurePolicy.failFast()
            .thenDeadLetter(
                (b, e) -> {
                  try {
                    ref.get().close();
                  } catch (Throwable t) {
                    fromClose.set(t);
                  }
                });
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1),
            store,
            opts("a-dlpclose").depth(2).failurePolicy(policy).build());
    ref.set(c);
    Delivery<Long> d0 = c.next();
    assertNotNull(d0);
    CompletableFuture<Boolean> f = async("failer", () -> d0.fail(new IOException("x")));
    Object outcome;
    try {
      outcome = f.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      outcome = e.getCause();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(
          "fail() whose dead-letter handler calls close() deadlocked: "
              + CollectorLeakCheck.liveCollectorThreads());
    }
    System.out.println(
        "close() from a pull dead-letter handler: fail -> "
            + outcome
            + ", close -> "
            + fromClose.get());
    c.close();
    assertNoLeaks();
  }

  @Test
  void stop_duringDayLongHandlerRetryBackoff_returnsWithinDrainTimeout() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(3, Duration.ofDays(1), Duration.ofDays(1)));
    CountDownLatch failed = new CountDownLatch(1);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            store,
            opts("a-stopbackoff")
                .drainTimeout(Duration.ofMillis(300))
                .failurePolicy(policy)
                .build());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            b -> {
              if (b.sequence() == 1 && b.attempt() == 1) {
                failed.countDown();
                throw new IOException("transient");
              }
            });
    assertTrue(failed.await(10, TimeUnit.SECONDS));
    store.awaitSequence(1, WAIT);
    assertTrue(c.stop());
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped(), s.toString());
    assertEquals(1, s.checkpoint().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void stop_withHandlersOutlivingDrain_interruptsThem_summaryCountsUncommitted() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(50, 1),
            store,
            opts("a-drain").drainTimeout(Duration.ofMillis(200)).build());
    BackgroundRun run = BackgroundRun.start(c, 4, ctl);
    ctl.awaitStartedCount(4, WAIT);
    await().atMost(WAIT).until(() -> c.progress().fetched() == 4);
    assertTrue(c.stop());
    ProcessSummary s = run.await(WAIT);
    assertTrue(s.stopped(), s.toString());
    assertEquals(0, s.checkpoint().sequence(), s.toString());
    assertEquals(0, s.batches(), s.toString());
    assertEquals(4, s.uncommitted(), "the 4 interrupted batches are delivered again: " + s);
    c.close();
    assertNoLeaks();
  }

  @Test
  void awaitCommitted_fromOtherThreadDuringProcess_isNotBelowDurable() throws Exception {
    var store = new RecordingCheckpointStore();
    var ctl = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(20, 1), store, opts("a-awaitother").build());
    BackgroundRun run = BackgroundRun.start(c, 4, ctl);
    ctl.release(0);
    ctl.release(1);
    ctl.release(2);
    store.awaitSequence(3, WAIT);
    Checkpoint cp = c.awaitCommitted();
    ctl.releaseAll();
    run.await(WAIT);
    c.close();
    assertEquals(3, cp.sequence(), "awaitCommitted() while 3 batches were durable (observed: 0)");
    assertNoLeaks();
  }

  @Test
  void timedAndUntimedWaiters_redeliveryAfterBackoff_wakesTheUntimedOne() throws Exception {
    var store = new RecordingCheckpointStore();
    var policy = FailurePolicy.retry(Retry.of(3, Duration.ofMillis(300), Duration.ofMillis(300)));
    try (Collector<Long> c =
        Collecting.open(
            FakeSource.generated(1, 1),
            store,
            opts("a-wakeup").depth(1).failurePolicy(policy).build())) {
      Delivery<Long> d0 = c.next();
      assertNotNull(d0);
      CompletableFuture<@Nullable Delivery<Long>> timed =
          async("w-timed", () -> c.next(Duration.ofMillis(150)));
      CompletableFuture<@Nullable Delivery<Long>> untimed = async("w-untimed", c::next);
      assertTrue(d0.fail(new IOException("retry me")));
      Delivery<Long> t = timed.get(10, TimeUnit.SECONDS);
      if (t != null) {
        // the backoff's jitter drew under 150 ms: the timed waiter got it
        t.ack();
        assertNull(untimed.get(10, TimeUnit.SECONDS));
      } else {
        Delivery<Long> u = untimed.get(10, TimeUnit.SECONDS); // issue 10 #6: never woken
        assertNotNull(u, "the untimed waiter was not given the due redelivery");
        assertEquals(0, u.batch().sequence());
        u.ack();
      }
      assertEquals(1, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }

  // ---------------------------------------------------------------- reuse

  @Test
  void pullAfterStoppedProcess_resumesAtCheckpoint() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(20, 1), store, opts("a-p2p").depth(4).build());
    ProcessSummary s =
        c.process(
            1,
            b -> {
              if (b.sequence() == 4) {
                c.stop();
              }
            });
    assertTrue(s.stopped());
    long cp = s.checkpoint().sequence();
    Delivery<Long> d = c.next();
    assertNotNull(d);
    assertEquals(cp, d.batch().sequence());
    d.ack();
    c.close();
    assertEquals(cp + 1, store.current().sequence());
    assertNoLeaks();
  }

  @Test
  void processAfterBatchFailure_resumesAtCheckpoint_failedBatchAgain() throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(FakeSource.generated(20, 1), store, opts("a-reuse").build());
    var e =
        assertThrows(
            BatchFailedException.class,
            () ->
                c.process(
                    4,
                    b -> {
                      if (b.sequence() == 9) {
                        throw new IOException("9");
                      }
                    }));
    assertEquals(9, e.sequence());
    assertTrue(store.current().sequence() <= 9);
    assertEquals(store.current(), e.committed());
    long cp = store.current().sequence();
    List<Long> seen = new CopyOnWriteList();
    c.process(1, b -> seen.add(b.sequence()));
    assertEquals(cp, (long) seen.get(0));
    assertEquals(20, store.current().sequence());
    c.close();
    assertNoLeaks();
  }

  @Test
  void tryNext_onFreshCollector_eventuallyDelivers_thenExhausts() throws Exception {
    var store = new RecordingCheckpointStore();
    try (Collector<Long> c =
        Collecting.open(FakeSource.generated(3, 1), store, opts("a-try").build())) {
      List<Long> got = new ArrayList<>();
      await()
          .atMost(WAIT)
          .until(
              () -> {
                Delivery<Long> d = c.tryNext();
                if (d != null) {
                  got.add(d.batch().sequence());
                  d.ack();
                }
                return c.isExhausted();
              });
      assertEquals(List.of(0L, 1L, 2L), got);
      assertNull(c.tryNext());
      assertEquals(3, c.awaitCommitted().sequence());
    }
    assertNoLeaks();
  }
}
