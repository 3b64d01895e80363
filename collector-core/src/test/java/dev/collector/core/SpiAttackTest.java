package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    "fetched",
    "windowFull",
    "handled",
    "acknowledged",
    "retried",
    "deadLettered",
    "committed",
    "misuse",
    "closed"
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
      BatchFailedException e =
          assertThrows(BatchFailedException.class, () -> c.process(1, b -> {}));
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
    System.out.println(
        "SpiAttackTest VME in closed(): first close threw "
            + first.get()
            + ", other listener closed()="
            + other.closed.get());
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
      c.listen(
          new CollectorListener() {
            @Override
            public void acknowledged(long s, int r) {
              if (s == 4) {
                throw new OutOfMemoryError("listener OOME");
              }
            }
          });
      BatchFailedException e =
          assertThrows(BatchFailedException.class, () -> c.process(1, b -> {}));
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
        Collector<Long> c =
            Collecting.open(
                Collecting.listSource(
                    LongStream.range(0, parties).mapToObj(i -> List.of(i)).toList()),
                Collecting.inMemoryStore(),
                CollectorOptions.builder().name(name).build());
        CyclicBarrier barrier = new CyclicBarrier(parties);
        c.listen(
            new CollectorListener() {
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

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void handledNanosCoverTheHook_andWindowFullWaitIsAtLeastOne() throws Exception {
    List<Long> handledNanos = new CopyOnWriteArrayList<>();
    List<Long> waits = new CopyOnWriteArrayList<>();
    Collector<Long> c =
        collector(
            6,
            CollectorOptions.builder()
                .handlerContext(
                    (b, a) -> {
                      Thread.sleep(30); // duration under test, not ordering
                      a.run();
                    }));
    c.listen(
        new CollectorListener() {
          @Override
          public void handled(long s, int r, long n, Outcome o) {
            handledNanos.add(n);
          }

          @Override
          public void windowFull(long w) {
            waits.add(w);
          }
        });
    c.process(1, b -> {});
    c.close();
    assertEquals(6, handledNanos.size());
    handledNanos.forEach(n -> assertTrue(n >= TimeUnit.MILLISECONDS.toNanos(30), "nanos " + n));
    assertFalse(waits.isEmpty(), "depth 1 with a slow hook: the fetcher waited for a slot");
    waits.forEach(w -> assertTrue(w >= 1, "waitNanos " + w));
  }

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void pullSession_eventsOnSettlingThread_listenMidSession_closedLastOnce() throws Exception {
    Collector<Long> c = collector(10, CollectorOptions.builder().depth(4));
    Rec early = new Rec();
    c.listen(early);
    List<String> threads = new CopyOnWriteArrayList<>();
    c.listen(
        new CollectorListener() {
          @Override
          public void handled(long s, int r, long n, Outcome o) {
            threads.add(s + " " + o + " " + Thread.currentThread().getName());
          }
        });
    Rec late = null;
    for (int i = 0; i < 10; i++) {
      var d = c.next();
      assertNotNull(d);
      if (i == 5) {
        late = new Rec();
        c.listen(late);
      }
      Thread acker = Thread.ofPlatform().name("acker-" + i).start(() -> d.ack());
      acker.join();
    }
    assertEquals(null, c.next());
    c.awaitCommitted();
    c.close();
    for (int i = 0; i < 10; i++) {
      assertEquals(i + " SUCCESS acker-" + i, threads.get(i), "handled on the settling thread");
    }
    assertEquals(10, early.count("acknowledged"));
    assertEquals(5, late.count("acknowledged"), "late listener: acks 5..9 " + late.events);
    for (Rec r : List.of(early, late)) {
      assertEquals(1, r.closed.get());
      assertEquals("closed", r.events.get(r.events.size() - 1));
      assertFalse(r.afterClosed.get());
    }
  }

  // ---- ordering and counts ----

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void eventOrdering_perBatchAndCommitMonotonic_closedOnceLast() throws Exception {
    Collector<Long> c = collector(200);
    Rec rec = new Rec();
    c.listen(rec);
    Set<Long> seen = ConcurrentHashMap.newKeySet();
    ProcessSummary s =
        c.process(
            8,
            b -> {
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
    long seed = Long.getLong("spiattack.seed", System.nanoTime());
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
    Collector<Long> c =
        collector(
            n,
            CollectorOptions.builder()
                .batchTimeout(Duration.ofMillis(100))
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ofMillis(1)))
                        .thenDeadLetter((b, f) -> deadLetterCalls.incrementAndGet())));
    Rec rec = new Rec();
    c.listen(rec);
    AtomicInteger attempts = new AtomicInteger();
    AtomicInteger failures = new AtomicInteger();
    AtomicInteger hangs = new AtomicInteger();
    ProcessSummary s =
        c.process(
            8,
            b -> {
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
    long covered =
        rec.events.stream()
            .filter(e -> e.startsWith("committed "))
            .mapToLong(e -> Long.parseLong(e.split(" ")[2]))
            .sum();
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
    Thread churn =
        Thread.ofPlatform()
            .start(
                () -> {
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
    long tagged =
        registry.getMeters().stream()
            .filter(m -> "spi-metrics".equals(m.getId().getTag("collector")))
            .count();
    assertTrue(tagged > 0, "meters registered: " + registry.getMeters());
    double acked =
        registry.getMeters().stream()
            .filter(m -> m.getId().getName().contains("acknowledged"))
            .filter(m -> m instanceof io.micrometer.core.instrument.Counter)
            .mapToDouble(m -> ((io.micrometer.core.instrument.Counter) m).count())
            .sum();
    assertEquals(s.batches(), (long) acked, "acknowledged counter = summary batches");
    metrics.close();
    metrics.close();
    assertEquals(
        0,
        registry.getMeters().stream()
            .filter(m -> "spi-metrics".equals(m.getId().getTag("collector")))
            .count());
    assertThrows(IllegalStateException.class, () -> metrics.bindTo(registry));
    // a new binder on the same open collector binds again; closing the collector removes it
    CollectorMetrics again = new CollectorMetrics(c);
    again.bindTo(registry);
    assertTrue(registry.getMeters().size() > 0);
    go.set(false);
    c.close();
    churn.join();
    assertEquals(
        0,
        registry.getMeters().stream()
            .filter(m -> "spi-metrics".equals(m.getId().getTag("collector")))
            .count());
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
    c.listen(
        new CollectorListener() {
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
