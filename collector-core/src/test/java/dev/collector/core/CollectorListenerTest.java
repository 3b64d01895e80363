package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.Registration;
import dev.collector.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The public {@link CollectorListener} SPI and {@link Collector#listen}: every sentence of their
 * javadoc about what is delivered when, registration races, and listeners that throw.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CollectorListenerTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  /** Records events as short strings, and whether one came after {@link #sealed} was set. */
  static class Recorder implements CollectorListener {
    final List<String> events = new CopyOnWriteArrayList<>();
    final AtomicBoolean sealed = new AtomicBoolean();
    final List<String> afterSeal = new CopyOnWriteArrayList<>();
    final AtomicInteger closed = new AtomicInteger();

    void add(String e) {
      if (sealed.get()) {
        afterSeal.add(e);
      }
      events.add(e);
    }

    List<String> named(String prefix) {
      return events.stream().filter(e -> e.startsWith(prefix)).toList();
    }

    @Override
    public void fetched(long sequence, int records, long fetchNanos) {
      add("fetched " + sequence + " " + records);
    }

    @Override
    public void windowFull(long waitNanos) {
      add("windowFull");
    }

    @Override
    public void handled(long sequence, int records, long nanos, Outcome outcome) {
      add("handled " + sequence + " " + outcome);
    }

    @Override
    public void acknowledged(long sequence, int records) {
      add("acknowledged " + sequence + " " + records);
    }

    @Override
    public void retried(long sequence) {
      add("retried " + sequence);
    }

    @Override
    public void deadLettered(long sequence) {
      add("deadLettered " + sequence);
    }

    @Override
    public void committed(long checkpoint, long batches, long nanos) {
      add("committed " + checkpoint);
    }

    @Override
    public void misuse(Class<? extends MisuseException> kind, long sequence) {
      add("misuse " + kind.getSimpleName() + " " + sequence);
    }

    @Override
    public void closed() {
      closed.incrementAndGet();
      add("closed");
    }
  }

  private final CheckpointStore store = Collecting.inMemoryStore();

  private Collector<Long> collector(int batches, CollectorOptions.Builder options) {
    List<List<Long>> list = LongStream.range(0, batches).mapToObj(i -> List.of(i, i)).toList();
    return Collecting.open(Collecting.listSource(list), store, options.build());
  }

  private static List<String> each(String event, long from, long to, String suffix) {
    List<String> out = new ArrayList<>();
    for (long i = from; i < to; i++) {
      out.add(event + " " + i + suffix);
    }
    return out;
  }

  @Test
  void events_carryTheBatchSequenceAndOutcome_closedOnceOnClose() throws Exception {
    Recorder r = new Recorder();
    Collector<Long> c = collector(5, CollectorOptions.builder());
    c.listen(r);
    c.process(1, batch -> {});
    assertEquals(each("fetched", 0, 5, " 2"), r.named("fetched"));
    assertEquals(each("handled", 0, 5, " SUCCESS"), r.named("handled"));
    assertEquals(each("acknowledged", 0, 5, " 2"), r.named("acknowledged"));
    assertEquals(
        List.of("committed 5"),
        r.named("committed").subList(r.named("committed").size() - 1, r.named("committed").size()));
    c.close();
    c.close();
    assertEquals(1, r.closed.get());
    assertEquals("closed", r.events.get(r.events.size() - 1));
  }

  @Test
  void retriedAndDeadLettered_nameTheBatch_failureOutcomePerAttempt() throws Exception {
    Recorder r = new Recorder();
    Collector<Long> c =
        collector(
            3,
            CollectorOptions.builder()
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                        .thenDeadLetter((batch, cause) -> {})));
    c.listen(r);
    c.process(
        1,
        batch -> {
          if (batch.sequence() == 1) {
            throw new IllegalStateException("bad batch");
          }
        });
    assertEquals(
        List.of("handled 0 SUCCESS", "handled 1 FAILURE", "handled 1 FAILURE", "handled 2 SUCCESS"),
        r.named("handled"));
    assertEquals(List.of("retried 1"), r.named("retried"));
    assertEquals(List.of("deadLettered 1"), r.named("deadLettered"));
    assertEquals(List.of("acknowledged 0 2", "acknowledged 2 2"), r.named("acknowledged"));
    c.close();
  }

  @Test
  void misuse_namesTheExceptionClassAndTheBatch() throws Exception {
    Recorder r = new Recorder();
    try (Collector<Long> c = collector(3, CollectorOptions.builder())) {
      c.listen(r);
      c.next();
      Delivery<Long> d = c.next();
      d.fail(new RuntimeException("bad"));
      assertThrows(ConflictingOutcomeException.class, d::ack);
      assertEquals(List.of("misuse ConflictingOutcomeException 1"), r.named("misuse"));
    }
  }

  /** "the listener gets every event that starts after this call returned". */
  @Test
  void listenDuringARun_getsEveryEventThatStartsAfterItReturned() throws Exception {
    Recorder r = new Recorder();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Collector<Long> c = collector(4, CollectorOptions.builder());
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            batch -> {
              if (batch.sequence() == 0) {
                running.countDown();
                release.await();
              }
            });
    assertTrue(running.await(10, TimeUnit.SECONDS));
    c.listen(r); // batch 0 was fetched before; its handler has not returned yet
    release.countDown();
    run.await(WAIT);
    assertEquals(each("fetched", 1, 4, " 2"), r.named("fetched"));
    assertEquals(each("handled", 0, 4, " SUCCESS"), r.named("handled"));
    assertEquals(each("acknowledged", 0, 4, " 2"), r.named("acknowledged"));
    c.close();
  }

  /** "none starts after Registration.close() returned". */
  @Test
  void closedRegistration_noEventStartsAfterCloseReturned_othersStillListen() throws Exception {
    Recorder r = new Recorder();
    Recorder other = new Recorder();
    CountDownLatch release = new CountDownLatch(1);
    Collector<Long> c = collector(6, CollectorOptions.builder());
    Registration registration = c.listen(r);
    c.listen(other);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            batch -> {
              if (batch.sequence() == 2) {
                release.await();
              }
            });
    // depth 1: with batch 2's handler waiting and checkpoint 2 reported, nothing else is under
    // way (the fetcher waits for room), so no event of ours is in progress
    await()
        .atMost(WAIT)
        .until(() -> r.events.contains("committed 2") && r.events.contains("fetched 2 2"));
    registration.close();
    r.sealed.set(true);
    registration.close(); // idempotent
    release.countDown();
    run.await(WAIT);
    c.close();
    assertEquals(List.of(), r.afterSeal);
    assertEquals(0, r.closed.get(), "a closed registration is not told closed()");
    assertEquals(each("handled", 0, 6, " SUCCESS"), other.named("handled"));
    assertEquals(1, other.closed.get());
  }

  @Test
  void sameListenerTwice_getsEachEventTwice_eachRegistrationRemovesOne() throws Exception {
    Recorder r = new Recorder();
    Collector<Long> c = collector(4, CollectorOptions.builder());
    Registration first = c.listen(r);
    c.listen(r);
    CountDownLatch atBatch2 = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    BackgroundRun run =
        BackgroundRun.start(
            c,
            1,
            batch -> {
              if (batch.sequence() == 2) {
                atBatch2.countDown();
                release.await();
              }
            });
    assertTrue(atBatch2.await(10, TimeUnit.SECONDS));
    first.close();
    first.close(); // idempotent: does not remove the other registration
    release.countDown();
    run.await(WAIT);
    assertEquals(
        List.of(
            "handled 0 SUCCESS",
            "handled 0 SUCCESS",
            "handled 1 SUCCESS",
            "handled 1 SUCCESS",
            "handled 2 SUCCESS",
            "handled 3 SUCCESS"),
        r.named("handled"));
    c.close();
    assertEquals(1, r.closed.get());
  }

  @Test
  void listenAfterClose_throwsCollectorClosed_registrationCloseAfterCollectorCloseIsANoOp() {
    Collector<Long> c = collector(1, CollectorOptions.builder().name("shut"));
    Registration registration = c.listen(new Recorder());
    c.close();
    var e = assertThrows(CollectorClosedException.class, () -> c.listen(new Recorder()));
    assertTrue(
        e.getMessage().contains("listen()") && e.getMessage().contains("'shut'"), e.getMessage());
    registration.close();
  }

  /** "either the listener is registered and its closed() is called once, or this throws". */
  @Test
  void listenRacingClose_eitherToldClosedOnceOrThrows() throws Exception {
    int registered = 0;
    int refused = 0;
    for (int i = 0; i < 200; i++) {
      Collector<Long> c = collector(1, CollectorOptions.builder());
      Recorder r = new Recorder();
      CountDownLatch go = new CountDownLatch(1);
      Thread closer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      go.await();
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                      return;
                    }
                    c.close();
                  });
      go.countDown();
      boolean threw = false;
      try {
        c.listen(r);
      } catch (CollectorClosedException e) {
        threw = true;
      }
      closer.join();
      if (threw) {
        refused++;
        assertEquals(0, r.closed.get());
      } else {
        registered++;
        assertEquals(1, r.closed.get(), "iteration " + i);
      }
    }
    System.out.println(
        "listen racing close: " + registered + " registered, " + refused + " refused");
  }

  @Test
  void listenFromInsideACallback_newListenerGetsOnlyLaterEvents_closeFromInsideStopsEvents()
      throws Exception {
    Recorder late = new Recorder();
    Recorder self = new Recorder();
    AtomicReference<@Nullable Registration> selfRegistration = new AtomicReference<>();
    Collector<Long> c = collector(3, CollectorOptions.builder());
    c.listen(
        new CollectorListener() {
          @Override
          public void acknowledged(long sequence, int records) {
            if (sequence == 0) {
              c.listen(late);
            }
          }
        });
    selfRegistration.set(
        c.listen(
            new Recorder() {
              @Override
              public void acknowledged(long sequence, int records) {
                self.add("acknowledged " + sequence);
                Registration mine = selfRegistration.get();
                if (mine != null) {
                  mine.close(); // the callback in progress finishes; no later event reaches us
                }
              }
            }));
    c.process(1, batch -> {});
    assertEquals(List.of("acknowledged 1 2", "acknowledged 2 2"), late.named("acknowledged"));
    assertFalse(late.named("fetched").contains("fetched 0 2"));
    assertEquals(List.of("acknowledged 0"), self.events);
    // from closed(): the collector is closed, so listen() throws
    AtomicReference<@Nullable Throwable> fromClosed = new AtomicReference<>();
    c.listen(
        new CollectorListener() {
          @Override
          public void closed() {
            try {
              c.listen(new Recorder());
            } catch (RuntimeException e) {
              fromClosed.set(e);
            }
          }
        });
    c.close();
    assertInstanceOf(CollectorClosedException.class, fromClosed.get());
  }

  /** Anything but a VirtualMachineError: the event is dropped for it, logged once. */
  @Test
  void listenerThrowingAnError_isIsolated_othersGetEveryEvent_loggedOnce() throws Exception {
    Recorder other = new Recorder();
    try (LogCapture log = new LogCapture()) {
      Collector<Long> c = collector(5, CollectorOptions.builder().name("throwing"));
      c.listen(
          new CollectorListener() {
            @Override
            public void handled(long sequence, int records, long nanos, Outcome outcome) {
              throw new AssertionError("listener broke");
            }

            @Override
            public void committed(long checkpoint, long batches, long nanos) {
              throw new IllegalStateException("listener broke too");
            }
          });
      c.listen(other);
      c.process(2, batch -> {});
      assertEquals(new Checkpoint(5, "5"), store.load());
      assertEquals(5, other.named("handled").size());
      c.close();
      long warnings =
          log.warnings().stream()
              .filter(w -> w.contains("'throwing'") && w.contains("listener threw"))
              .count();
      assertEquals(1, warnings, log.warnings().toString());
    }
  }

  @Test
  void listen_rejectsNull() {
    try (Collector<Long> c = collector(1, CollectorOptions.builder())) {
      assertThrows(NullPointerException.class, () -> c.listen(nullListener()));
    }
  }

  @SuppressWarnings("NullAway")
  private static CollectorListener nullListener() {
    return null;
  }
}
