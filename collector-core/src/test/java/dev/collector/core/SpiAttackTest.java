package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.collector.BatchFailedException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.ProcessSummary;
import dev.collector.Registration;
import dev.collector.Retry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile use of {@link Collector#listen}, {@link Registration} and {@link CollectorListener},
 * written from the public javadoc and docs/contract.md, docs/observability.md only.
 */
class SpiAttackTest {

  static final String[] EVENTS = {
    "fetched", "windowFull", "handled", "acknowledged", "retried", "deadLettered", "committed",
    "misuse", "closed"
  };

  /** Records every event with its thread; optionally throws in the named callbacks. */
  static class Rec implements CollectorListener {
    final List<String> events = new CopyOnWriteArrayList<>();
    final AtomicInteger closed = new AtomicInteger();
    final AtomicBoolean afterClosed = new AtomicBoolean();

    void add(String e) {
      if (closed.get() > 0) {
        afterClosed.set(true);
      }
      events.add(e);
    }

    long count(String prefix) {
      return events.stream().filter(e -> e.startsWith(prefix + " ") || e.equals(prefix)).count();
    }

    @Override
    public void fetched(long s, int r, long n) {
      add("fetched " + s + " " + r);
    }

    @Override
    public void windowFull(long w) {
      add("windowFull");
    }

    @Override
    public void handled(long s, int r, long n, Outcome o) {
      add("handled " + s + " " + r + " " + o);
    }

    @Override
    public void acknowledged(long s, int r) {
      add("acknowledged " + s + " " + r);
    }

    @Override
    public void retried(long s) {
      add("retried " + s);
    }

    @Override
    public void deadLettered(long s) {
      add("deadLettered " + s);
    }

    @Override
    public void committed(long c, long b, long n) {
      add("committed " + c + " " + b);
    }

    @Override
    public void misuse(Class<? extends MisuseException> k, long s) {
      add("misuse " + k.getSimpleName() + " " + s);
    }

    @Override
    public void closed() {
      add("closed");
      closed.incrementAndGet();
    }
  }

  /** Throws {@code t} from every callback. */
  static class Thrower implements CollectorListener {
    final java.util.function.Supplier<Throwable> t;
    final AtomicInteger calls = new AtomicInteger();

    Thrower(java.util.function.Supplier<Throwable> t) {
      this.t = t;
    }

    void boom() {
      calls.incrementAndGet();
      Throwable x = t.get();
      if (x instanceof RuntimeException r) {
        throw r;
      }
      throw (Error) x;
    }

    @Override
    public void fetched(long s, int r, long n) {
      boom();
    }

    @Override
    public void windowFull(long w) {
      boom();
    }

    @Override
    public void handled(long s, int r, long n, Outcome o) {
      boom();
    }

    @Override
    public void acknowledged(long s, int r) {
      boom();
    }

    @Override
    public void retried(long s) {
      boom();
    }

    @Override
    public void deadLettered(long s) {
      boom();
    }

    @Override
    public void committed(long c, long b, long n) {
      boom();
    }

    @Override
    public void misuse(Class<? extends MisuseException> k, long s) {
      boom();
    }

    @Override
    public void closed() {
      boom();
    }
  }

  final CheckpointStore store = Collecting.inMemoryStore();

  Collector<Long> collector(int batches, CollectorOptions.Builder options) {
    List<List<Long>> list = LongStream.range(0, batches).mapToObj(i -> List.of(i, i, i)).toList();
    return Collecting.open(Collecting.listSource(list), store, options.build());
  }

  Collector<Long> collector(int batches) {
    return collector(batches, CollectorOptions.builder());
  }

  static boolean chainHas(Throwable t, Class<?> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return true;
      }
      for (Throwable s : c.getSuppressed()) {
        if (type.isInstance(s)) {
          return true;
        }
      }
    }
    return false;
  }

  // ---- listeners that throw ----

  void throwingListener_runGoesOn_loggedOnce(java.util.function.Supplier<Throwable> t)
      throws Exception {
    try (LogCapture log = new LogCapture()) {
      Collector<Long> c = collector(20, CollectorOptions.builder().name("thrower"));
      Thrower thrower = new Thrower(t);
      Rec rec = new Rec();
      c.listen(thrower);
      c.listen(rec);
      ProcessSummary s = c.process(2, b -> {});
      c.close();
      assertEquals(20, s.batches());
      assertEquals(20, rec.count("fetched"));
      assertEquals(20, rec.count("acknowledged"));
      assertEquals(1, rec.count("closed"), "the other listener still gets every event");
      assertTrue(thrower.calls.get() >= 41, "thrower called for every event: " + thrower.calls);
      assertEquals(1, log.warnings().size(), "logged once per collector: " + log.warnings());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsRuntimeExceptionEverywhere_runGoesOn_loggedOnce() throws Exception {
    throwingListener_runGoesOn_loggedOnce(() -> new IllegalStateException("listener bug"));
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsLinkageErrorEverywhere_runGoesOn_loggedOnce() throws Exception {
    throwingListener_runGoesOn_loggedOnce(() -> new NoSuchMethodError("version mismatch"));
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsAssertionErrorEverywhere_runGoesOn_loggedOnce() throws Exception {
    throwingListener_runGoesOn_loggedOnce(() -> new AssertionError("assert in listener"));
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsStackOverflowInHandled_runFailsWithBatchFailed() throws Exception {
    try (Collector<Long> c = collector(5)) {
      c.listen(
          new CollectorListener() {
            @Override
            public void handled(long s, int r, long n, Outcome o) {
              if (s == 2) {
                throw new StackOverflowError("listener SOE");
              }
            }
          });
      BatchFailedException e = assertThrows(BatchFailedException.class, () -> c.process(1, b -> {}));
      assertTrue(chainHas(e, StackOverflowError.class), "cause chain holds the SOE: " + e);
      assertTrue(e.committed().sequence() <= 2, "batch 2 not committed past: " + e.committed());
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsVirtualMachineErrorInFetched_runFails() throws Exception {
    try (Collector<Long> c = collector(5)) {
      c.listen(
          new CollectorListener() {
            @Override
            public void fetched(long s, int r, long n) {
              if (s == 1) {
                throw new InternalError("listener VME in fetched");
              }
            }
          });
      Throwable t = assertThrows(Throwable.class, () -> c.process(1, b -> {}));
      assertTrue(chainHas(t, InternalError.class), "the VME is reported: " + t);
      assertTrue(store.load() == null || store.load().sequence() <= 1, "batch 1 not committed");
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsVirtualMachineErrorInCommitted_runFails() throws Exception {
    try (Collector<Long> c = collector(5)) {
      c.listen(
          new CollectorListener() {
            @Override
            public void committed(long cp, long b, long n) {
              throw new InternalError("listener VME in committed");
            }
          });
      Throwable t = assertThrows(Throwable.class, () -> c.process(1, b -> {}));
      assertTrue(chainHas(t, InternalError.class), "the VME is reported: " + t);
    }
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  @org.junit.jupiter.api.Disabled("defect: after a listener's VirtualMachineError in closed(), a second close() hangs for ever (uninterruptibly) instead of returning")
  void listenerThrowsVirtualMachineErrorInClosed_propagatesFromClose_secondCloseHarmless()
      throws Exception {
    Collector<Long> c = collector(1);
    Rec other = new Rec();
    c.listen(
        new CollectorListener() {
          @Override
          public void closed() {
            throw new InternalError("listener VME in closed");
          }
        });
    c.listen(other);
    AtomicReference<Throwable> first = new AtomicReference<>();
    try {
      c.close();
    } catch (Throwable t) {
      first.set(t);
    }
    System.out.println("SpiAttackTest VME in closed(): first close threw " + first.get()
        + ", other listener closed()=" + other.closed.get());
    assertTrue(chainHas(first.get(), InternalError.class), "propagates: " + first.get());
    Thread second = Thread.ofPlatform().daemon().start(c::close);
    second.join(5_000);
    assertFalse(second.isAlive(), "a second close() returns (Collector.close javadoc)");
    assertThrows(CollectorClosedException.class, () -> c.listen(new Rec()));
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowsVirtualMachineErrorInAcknowledged_batchNotCommittedPast() throws Exception {
    try (Collector<Long> c = collector(10)) {
      c.listen(new CollectorListener() {
        @Override
        public void acknowledged(long s, int r) {
          if (s == 4) {
            throw new OutOfMemoryError("listener OOME");
          }
        }
      });
      BatchFailedException e = assertThrows(BatchFailedException.class, () -> c.process(1, b -> {}));
      assertEquals(4, e.sequence());
      assertTrue(chainHas(e, OutOfMemoryError.class), "" + e);
      assertTrue(e.committed().sequence() <= 4, "" + e.committed());
      assertTrue(store.load() == null || store.load().sequence() <= 4);
    }
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenerThrowingOnManyThreadsAtOnce_stillLoggedOncePerCollector() throws Exception {
    int rounds = 30;
    int parties = 16;
    for (int round = 0; round < rounds; round++) {
      try (LogCapture log = new LogCapture()) {
        String name = "burst" + round;
        Collector<Long> c = Collecting.open(
            Collecting.listSource(LongStream.range(0, parties).mapToObj(i -> List.of(i)).toList()),
            Collecting.inMemoryStore(), CollectorOptions.builder().name(name).build());
        CyclicBarrier barrier = new CyclicBarrier(parties);
        c.listen(new CollectorListener() {
          @Override
          public void handled(long s, int r, long n, Outcome o) {
            try {
              barrier.await(5, TimeUnit.SECONDS);
            } catch (Exception e) {
              // fall through and throw anyway
            }
            throw new IllegalStateException("burst");
          }
        });
        ProcessSummary s = c.process(parties, b -> {});
        c.close();
        assertEquals(parties, s.batches());
        assertEquals(1, log.warningsContaining(name), "round " + round + ": " + log.warnings());
      }
    }
  }

  // ---- blocking listener ----

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void blockingListener_registrationCloseListenAndProgress_doNotBlock() throws Exception {
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Collector<Long> c = collector(3);
    Registration blocking =
        c.listen(
            new CollectorListener() {
              @Override
              public void handled(long s, int r, long n, Outcome o) {
                inside.countDown();
                try {
                  release.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            });
    Thread run = Thread.ofVirtual().start(() -> {
      try {
        c.process(1, b -> {});
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    assertTrue(inside.await(10, TimeUnit.SECONDS));
    // while the listener blocks on a handler thread:
    Registration r2 = c.listen(new Rec());
    r2.close();
    blocking.close();
    assertNotNull(c.progress());
    c.stop(); // never blocks
    release.countDown();
    run.join();
    c.close();
  }

  // ---- registration races ----

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenAndRegistrationClose_racingARun_noEventAfterCloseReturned_fromSameThread()
      throws Exception {
    Collector<Long> c = collector(400);
    AtomicBoolean running = new AtomicBoolean(true);
    List<Thread> threads = new ArrayList<>();
    AtomicReference<String> bad = new AtomicReference<>();
    for (int i = 0; i < 4; i++) {
      threads.add(Thread.ofPlatform().start(() -> {
        while (running.get()) {
          Rec r = new Rec();
          Registration reg = c.listen(r);
          Thread.yield();
          reg.close();
          reg.close();
          int n = r.events.size();
          // an event already in progress may finish; give them a moment by draining a snapshot:
          if (r.closed.get() > 0) {
            bad.compareAndSet(null, "closed() delivered to a registration closed before close()");
          }
        }
      }));
    }
    ProcessSummary s = c.process(4, b -> {});
    running.set(false);
    for (Thread t : threads) {
      t.join();
    }
    Rec last = new Rec();
    c.listen(last);
    c.close();
    assertEquals(400, s.batches());
    assertEquals(1, last.closed.get());
    assertEquals(null, bad.get());
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenRacingCollectorClose_eitherRefusedOrClosedExactlyOnce() throws Exception {
    for (int round = 0; round < 50; round++) {
      Collector<Long> c = collector(2);
      int n = 8;
      CyclicBarrier barrier = new CyclicBarrier(n + 1);
      List<Rec> accepted = new CopyOnWriteArrayList<>();
      AtomicInteger refused = new AtomicInteger();
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        ts.add(Thread.ofPlatform().start(() -> {
          try {
            barrier.await();
            for (int k = 0; k < 20; k++) {
              Rec r = new Rec();
              try {
                c.listen(r);
                accepted.add(r);
              } catch (CollectorClosedException e) {
                refused.incrementAndGet();
              }
            }
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        }));
      }
      barrier.await();
      c.close();
      for (Thread t : ts) {
        t.join();
      }
      assertEquals(n * 20, accepted.size() + refused.get());
      for (Rec r : accepted) {
        assertEquals(1, r.closed.get(), "round " + round + ": accepted listener told closed() once");
      }
    }
  }

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void collectorCloseFromManyThreads_allReturn_closedOncePerListener() throws Exception {
    Collector<Long> c = collector(10);
    Rec rec = new Rec();
    c.listen(rec);
    c.process(2, b -> {});
    int n = 16;
    CyclicBarrier barrier = new CyclicBarrier(n);
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ts.add(Thread.ofPlatform().start(() -> {
        try {
          barrier.await();
          c.close();
        } catch (Throwable t) {
          errors.add(t);
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    assertEquals(List.of(), errors);
    assertEquals(1, rec.closed.get());
    assertFalse(rec.afterClosed.get(), "no event after closed(): " + rec.events);
    assertEquals("closed", rec.events.get(rec.events.size() - 1));
  }

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void collectorCloseFromManyThreads_duringProcess_closedOnce_processReturnsStopped()
      throws Exception {
    Collector<Long> c = collector(100_000);
    Rec rec = new Rec();
    c.listen(rec);
    CountDownLatch started = new CountDownLatch(1);
    AtomicReference<ProcessSummary> summary = new AtomicReference<>();
    Thread run = Thread.ofPlatform().start(() -> {
      try {
        summary.set(c.process(8, b -> started.countDown()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    int n = 8;
    CyclicBarrier barrier = new CyclicBarrier(n);
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ts.add(Thread.ofPlatform().start(() -> {
        try {
          barrier.await();
          c.close();
        } catch (Throwable t) {
          errors.add(t);
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    run.join();
    assertEquals(List.of(), errors);
    assertNotNull(summary.get());
    assertTrue(summary.get().stopped());
    assertEquals(1, rec.closed.get());
    assertFalse(rec.afterClosed.get(), "no event after closed()");
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void registrationClosedTwice_andAfterCollectorClosed_harmless() throws Exception {
    Collector<Long> c = collector(3);
    Rec rec = new Rec();
    Registration r = c.listen(rec);
    r.close();
    r.close();
    Registration r2 = c.listen(rec);
    c.process(1, b -> {});
    c.close();
    r2.close();
    r2.close();
    r.close();
    assertEquals(1, rec.closed.get());
    assertEquals(3, rec.count("acknowledged"));
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void sameListenerNTimes_getsEachEventNTimes_closingInShuffledOrderRemovesOneEach()
      throws Exception {
    Collector<Long> c = collector(4);
    Rec rec = new Rec();
    List<Registration> regs = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      regs.add(c.listen(rec));
    }
    c.process(2, b -> {});
    assertEquals(7 * 4, rec.count("acknowledged"));
    Collections.shuffle(regs, new Random(42));
    for (int i = 0; i < 4; i++) {
      regs.get(i).close();
      regs.get(i).close(); // twice: still removes only one
    }
    c.close();
    assertEquals(3, rec.closed.get());
  }

  // ---- calling back ----

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenFromInsideEveryCallback_newListenerMissesTheEventBeingReported() throws Exception {
    Collector<Long> c = collector(30, CollectorOptions.builder()
        .failurePolicy(FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
            .thenDeadLetter((b, f) -> {})));
    List<String> bad = new CopyOnWriteArrayList<>();
    Set<String> kinds = ConcurrentHashMap.newKeySet();
    AtomicReference<Collector<Long>> self = new AtomicReference<>(c);
    CollectorListener spawner = new CollectorListener() {
      void spawn(String event, long seq) {
        kinds.add(event);
        Rec inner = new Rec();
        Registration reg;
        try {
          reg = self.get().listen(inner);
        } catch (CollectorClosedException e) {
          if (!event.equals("closed")) {
            bad.add("listen refused in " + event);
          }
          return;
        }
        if (event.equals("closed")) {
          bad.add("listen from closed() was accepted");
        }
        // the event being reported must not reach it: inner has no event of this kind+seq now
        for (String e : inner.events) {
          if (e.startsWith(event + " " + seq + " ") || e.equals(event + " " + seq)) {
            bad.add("inner got the event being reported: " + e);
          }
        }
        reg.close();
      }

      @Override
      public void fetched(long s, int r, long n) {
        spawn("fetched", s);
      }

      @Override
      public void handled(long s, int r, long n, Outcome o) {
        spawn("handled", s);
      }

      @Override
      public void acknowledged(long s, int r) {
        spawn("acknowledged", s);
      }

      @Override
      public void retried(long s) {
        spawn("retried", s);
      }

      @Override
      public void deadLettered(long s) {
        spawn("deadLettered", s);
      }

      @Override
      public void committed(long cp, long b, long n) {
        spawn("committed", cp);
      }

      @Override
      public void closed() {
        spawn("closed", -1);
      }
    };
    c.listen(spawner);
    ProcessSummary s = c.process(4, b -> {
      if (b.sequence() % 5 == 0) {
        throw new RuntimeException("fail " + b.sequence());
      }
    });
    c.close();
    assertEquals(30, s.batches());
    assertEquals(List.of(), bad);
    assertEquals(Set.of("fetched", "handled", "acknowledged", "retried", "deadLettered",
        "committed", "closed"), kinds);
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenFromAHandler_works_andStopFromAListener_stopsTheRun() throws Exception {
    Collector<Long> c = collector(1000);
    Rec fromHandler = new Rec();
    AtomicReference<Registration> reg = new AtomicReference<>();
    c.listen(new CollectorListener() {
      @Override
      public void acknowledged(long s, int r) {
        if (s == 10) {
          c.stop();
        }
      }
    });
    ProcessSummary s = c.process(2, b -> {
      if (b.sequence() == 0) {
        reg.set(c.listen(fromHandler));
      }
    });
    assertTrue(s.stopped());
    assertTrue(s.batches() < 1000);
    assertNotNull(reg.get());
    assertTrue(fromHandler.count("acknowledged") >= 1);
    c.close();
    assertEquals(1, fromHandler.closed.get());
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void registrationCloseFromItsOwnCallback_noFurtherEvents_noClosed() throws Exception {
    Collector<Long> c = collector(20);
    AtomicReference<Registration> self = new AtomicReference<>();
    AtomicInteger after = new AtomicInteger();
    AtomicBoolean done = new AtomicBoolean();
    self.set(c.listen(new CollectorListener() {
      @Override
      public void acknowledged(long s, int r) {
        if (done.get()) {
          after.incrementAndGet();
          return;
        }
        if (s == 3) {
          self.get().close();
          done.set(true);
        }
      }

      @Override
      public void closed() {
        after.incrementAndGet();
      }
    }));
    c.process(1, b -> {}); // depth 1: one handler at a time, no event in progress elsewhere
    c.close();
    assertEquals(0, after.get(), "events after own Registration.close() returned");
  }

  // ---- ordering and counts ----

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void eventOrdering_perBatchAndCommitMonotonic_closedOnceLast() throws Exception {
    Collector<Long> c = collector(200);
    Rec rec = new Rec();
    c.listen(rec);
    Set<Long> seen = ConcurrentHashMap.newKeySet();
    ProcessSummary s = c.process(8, b -> {
      seen.add(b.sequence());
      if (b.sequence() % 7 == 0) {
        Thread.sleep(1);
      }
    });
    c.close();
    List<String> ev = List.copyOf(rec.events);
    long lastCp = 0;
    long sumBatches = 0;
    Set<Long> acked = new java.util.HashSet<>();
    Set<Long> fetched = new java.util.HashSet<>();
    Set<Long> handled = new java.util.HashSet<>();
    for (String e : ev) {
      String[] p = e.split(" ");
      switch (p[0]) {
        case "fetched" -> {
          fetched.add(Long.parseLong(p[1]));
          assertEquals("3", p[2]);
        }
        case "handled" -> {
          long q = Long.parseLong(p[1]);
          assertTrue(fetched.contains(q), "handled before fetched: " + q);
          assertEquals("3", p[2]);
          assertEquals("SUCCESS", p[3]);
          handled.add(q);
        }
        case "acknowledged" -> {
          long q = Long.parseLong(p[1]);
          assertTrue(handled.contains(q), "acknowledged before handled: " + q);
          assertTrue(acked.add(q), "acknowledged twice: " + q);
        }
        case "committed" -> {
          long cp = Long.parseLong(p[1]);
          assertTrue(cp > lastCp, "checkpoint not increasing " + lastCp + " -> " + cp);
          for (long q = lastCp; q < cp; q++) {
            assertTrue(acked.contains(q), "committed " + cp + " before batch " + q + " acked");
          }
          assertEquals(cp - lastCp, Long.parseLong(p[2]), "batches covered");
          sumBatches += Long.parseLong(p[2]);
          lastCp = cp;
        }
        default -> {}
      }
    }
    assertEquals(200, lastCp);
    assertEquals(200, sumBatches);
    assertEquals(seen, handled, "callbacks' sequences = batches the handler saw");
    assertEquals(s.commits(), rec.count("committed"));
    assertEquals(1, rec.closed.get());
    assertEquals("closed", ev.get(ev.size() - 1));
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void seededRandomRun_eventCountsMatchSummary() throws Exception {
    long seed = System.nanoTime();
    System.out.println("SpiAttackTest.seededRandomRun seed=" + seed);
    Random random = new Random(seed);
    int n = 150;
    // per batch, per attempt: 0 ok, 1 throw, 2 hang (timeout)
    int[][] plan = new int[n][3];
    for (int i = 0; i < n; i++) {
      for (int a = 0; a < 3; a++) {
        int r = random.nextInt(100);
        plan[i][a] = r < 70 ? 0 : r < 95 ? 1 : 2;
      }
    }
    AtomicInteger deadLetterCalls = new AtomicInteger();
    Collector<Long> c = collector(n, CollectorOptions.builder()
        .batchTimeout(Duration.ofMillis(100))
        .failurePolicy(FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ofMillis(1)))
            .thenDeadLetter((b, f) -> deadLetterCalls.incrementAndGet())));
    Rec rec = new Rec();
    c.listen(rec);
    AtomicInteger attempts = new AtomicInteger();
    AtomicInteger failures = new AtomicInteger();
    AtomicInteger hangs = new AtomicInteger();
    ProcessSummary s = c.process(8, b -> {
      attempts.incrementAndGet();
      int what = plan[(int) b.sequence()][b.attempt() - 1];
      if (what == 1) {
        failures.incrementAndGet();
        throw new RuntimeException("planned");
      }
      if (what == 2) {
        hangs.incrementAndGet();
        new CountDownLatch(1).await();
      }
    });
    c.close();
    String ctx = "seed=" + seed + " " + s;
    long handled = rec.count("handled");
    long timeouts = rec.events.stream().filter(e -> e.endsWith(" TIMEOUT")).count();
    long failed = rec.events.stream().filter(e -> e.endsWith(" FAILURE")).count();
    long ok = rec.events.stream().filter(e -> e.endsWith(" SUCCESS")).count();
    assertEquals(n, s.batches(), ctx);
    assertEquals(3L * n, s.records(), ctx);
    assertEquals(attempts.get(), handled, ctx);
    assertEquals(hangs.get(), timeouts, ctx);
    assertEquals(failures.get(), failed, ctx);
    assertEquals(ok, rec.count("acknowledged"), ctx);
    assertEquals(deadLetterCalls.get(), rec.count("deadLettered"), ctx);
    assertEquals(s.deadLettered(), rec.count("deadLettered"), ctx);
    assertEquals(n, rec.count("acknowledged") + rec.count("deadLettered"), ctx);
    assertEquals(attempts.get() - n, rec.count("retried") + 0, ctx);
    assertEquals(s.commits(), rec.count("committed"), ctx);
    long covered = rec.events.stream().filter(e -> e.startsWith("committed "))
        .mapToLong(e -> Long.parseLong(e.split(" ")[2])).sum();
    assertEquals(n, covered, ctx);
    assertEquals(n, s.checkpoint().sequence(), ctx);
  }

  // ---- CollectorMetrics on the public SPI ----

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void collectorMetrics_boundAndClosed_whileListenersComeAndGo() throws Exception {
    MeterRegistry registry = new SimpleMeterRegistry();
    Collector<Long> c = collector(300, CollectorOptions.builder().name("spi-metrics"));
    CollectorMetrics metrics = new CollectorMetrics(c);
    AtomicBoolean go = new AtomicBoolean(true);
    Thread churn = Thread.ofPlatform().start(() -> {
      while (go.get()) {
        try {
          c.listen(new Rec()).close();
        } catch (CollectorClosedException e) {
          return;
        }
      }
    });
    metrics.bindTo(registry);
    ProcessSummary s = c.process(4, b -> {});
    long tagged = registry.getMeters().stream()
        .filter(m -> "spi-metrics".equals(m.getId().getTag("collector"))).count();
    assertTrue(tagged > 0, "meters registered: " + registry.getMeters());
    double acked = registry.getMeters().stream()
        .filter(m -> m.getId().getName().contains("acknowledged"))
        .filter(m -> m instanceof io.micrometer.core.instrument.Counter)
        .mapToDouble(m -> ((io.micrometer.core.instrument.Counter) m).count()).sum();
    assertEquals(s.batches(), (long) acked, "acknowledged counter = summary batches");
    metrics.close();
    metrics.close();
    assertEquals(0, registry.getMeters().stream()
        .filter(m -> "spi-metrics".equals(m.getId().getTag("collector"))).count());
    assertThrows(IllegalStateException.class, () -> metrics.bindTo(registry));
    // a new binder on the same open collector binds again; closing the collector removes it
    CollectorMetrics again = new CollectorMetrics(c);
    again.bindTo(registry);
    assertTrue(registry.getMeters().size() > 0);
    go.set(false);
    c.close();
    churn.join();
    assertEquals(0, registry.getMeters().stream()
        .filter(m -> "spi-metrics".equals(m.getId().getTag("collector"))).count());
    again.close();
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void collectorMetrics_bindAfterCollectorClosed_doesNothing() {
    MeterRegistry registry = new SimpleMeterRegistry();
    Collector<Long> c = collector(1, CollectorOptions.builder().name("spi-closed"));
    c.close();
    new CollectorMetrics(c).bindTo(registry);
    assertEquals(0, registry.getMeters().size());
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void misuseEvent_beforeTheExceptionIsThrown_onCallerThread() throws Exception {
    Collector<Long> c = collector(1);
    AtomicReference<Thread> on = new AtomicReference<>();
    AtomicLong seq = new AtomicLong(-2);
    c.listen(new CollectorListener() {
      @Override
      public void misuse(Class<? extends MisuseException> k, long s) {
        on.set(Thread.currentThread());
        seq.set(s);
      }
    });
    c.close();
    assertThrows(CollectorClosedException.class, c::next);
    // listeners were removed by close(): closed() is the last event of every registration
    assertEquals(null, on.get(), "no misuse event after closed()");
  }
}
