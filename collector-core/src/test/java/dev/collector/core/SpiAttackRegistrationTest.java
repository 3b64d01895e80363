package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.ProcessSummary;
import dev.collector.Registration;
import dev.collector.Retry;
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
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile registration traffic on {@link Collector#listen} and {@link Registration}: blocking
 * listeners, races with {@code close()}, duplicates, calls back from callbacks. Split from {@link
 * SpiAttackTest}, whose recording listeners it uses.
 */
class SpiAttackRegistrationTest {

  final CheckpointStore store = Collecting.inMemoryStore();

  Collector<Long> collector(int batches, CollectorOptions.Builder options) {
    List<List<Long>> list = LongStream.range(0, batches).mapToObj(i -> List.of(i, i, i)).toList();
    return Collecting.open(Collecting.listSource(list), store, options.build());
  }

  Collector<Long> collector(int batches) {
    return collector(batches, CollectorOptions.builder());
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
    Thread run =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    c.process(1, b -> {});
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
    assertTrue(inside.await(10, TimeUnit.SECONDS));
    // while the listener blocks on a handler thread:
    Registration r2 = c.listen(new SpiAttackTest.Rec());
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
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (running.get()) {
                      SpiAttackTest.Rec r = new SpiAttackTest.Rec();
                      Registration reg = c.listen(r);
                      Thread.yield();
                      reg.close();
                      reg.close();
                      int n = r.events.size();
                      // an event already in progress may finish; give them a moment by draining a
                      // snapshot:
                      if (r.closed.get() > 0) {
                        bad.compareAndSet(
                            null, "closed() delivered to a registration closed before close()");
                      }
                    }
                  }));
    }
    ProcessSummary s = c.process(4, b -> {});
    running.set(false);
    for (Thread t : threads) {
      t.join();
    }
    SpiAttackTest.Rec last = new SpiAttackTest.Rec();
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
      List<SpiAttackTest.Rec> accepted = new CopyOnWriteArrayList<>();
      AtomicInteger refused = new AtomicInteger();
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        ts.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        barrier.await();
                        for (int k = 0; k < 20; k++) {
                          SpiAttackTest.Rec r = new SpiAttackTest.Rec();
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
      for (SpiAttackTest.Rec r : accepted) {
        assertEquals(
            1, r.closed.get(), "round " + round + ": accepted listener told closed() once");
      }
    }
  }

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void collectorCloseFromManyThreads_allReturn_closedOncePerListener() throws Exception {
    Collector<Long> c = collector(10);
    SpiAttackTest.Rec rec = new SpiAttackTest.Rec();
    c.listen(rec);
    c.process(2, b -> {});
    int n = 16;
    CyclicBarrier barrier = new CyclicBarrier(n);
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ts.add(
          Thread.ofPlatform()
              .start(
                  () -> {
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
    SpiAttackTest.Rec rec = new SpiAttackTest.Rec();
    c.listen(rec);
    CountDownLatch started = new CountDownLatch(1);
    AtomicReference<ProcessSummary> summary = new AtomicReference<>();
    Thread run =
        Thread.ofPlatform()
            .start(
                () -> {
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
      ts.add(
          Thread.ofPlatform()
              .start(
                  () -> {
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
    SpiAttackTest.Rec rec = new SpiAttackTest.Rec();
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
    SpiAttackTest.Rec rec = new SpiAttackTest.Rec();
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
    Collector<Long> c =
        collector(
            30,
            CollectorOptions.builder()
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                        .thenDeadLetter((b, f) -> {})));
    List<String> bad = new CopyOnWriteArrayList<>();
    Set<String> kinds = ConcurrentHashMap.newKeySet();
    AtomicReference<Collector<Long>> self = new AtomicReference<>(c);
    CollectorListener spawner =
        new CollectorListener() {
          void spawn(String event, long seq) {
            kinds.add(event);
            SpiAttackTest.Rec inner = new SpiAttackTest.Rec();
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
    ProcessSummary s =
        c.process(
            4,
            b -> {
              if (b.sequence() % 5 == 0) {
                throw new RuntimeException("fail " + b.sequence());
              }
            });
    c.close();
    assertEquals(30, s.batches());
    assertEquals(List.of(), bad);
    assertEquals(
        Set.of(
            "fetched", "handled", "acknowledged", "retried", "deadLettered", "committed", "closed"),
        kinds);
  }

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void listenFromAHandler_works_andStopFromAListener_stopsTheRun() throws Exception {
    Collector<Long> c = collector(1000);
    SpiAttackTest.Rec fromHandler = new SpiAttackTest.Rec();
    AtomicReference<Registration> reg = new AtomicReference<>();
    c.listen(
        new CollectorListener() {
          @Override
          public void acknowledged(long s, int r) {
            if (s == 10) {
              c.stop();
            }
          }
        });
    ProcessSummary s =
        c.process(
            2,
            b -> {
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
    self.set(
        c.listen(
            new CollectorListener() {
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
}
