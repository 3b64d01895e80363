package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.CollectorRun;
import dev.collector.testkit.CompletionController;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The testkit's JUnit extension, background runs and controller: leaks, blame, injection. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
@ExtendWith(CollectorLeakCheck.class)
class CollectorLeakCheckTest {

  @Test
  void liveCollectorThreads_findsAnOpenPullSession_andNothingOnceClosed() throws Exception {
    Collector<Long> open =
        Collecting.open(
            FakeSource.generated(100, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("leaky").build());
    open.next();
    List<String> alive = CollectorLeakCheck.liveCollectorThreads();
    assertTrue(
        alive.contains("leaky-fetcher") && alive.contains("leaky-committer"), alive.toString());
    open.close();
    assertEquals(
        List.of(),
        CollectorLeakCheck.liveCollectorThreads().stream()
            .filter(n -> n.startsWith("leaky-"))
            .toList());
  }

  /** 6: an application thread named like a collector thread is not one. */
  @Test
  void applicationThreadNamedLikeACollectorThread_isNotBlamed() throws Exception {
    var done = new CountDownLatch(1);
    Thread watchdog = Thread.ofPlatform().name("billing-watchdog").start(() -> awaitQuietly(done));
    Thread handler = Thread.ofVirtual().name("billing-handler-7").start(() -> awaitQuietly(done));
    try {
      assertEquals(List.of(), CollectorLeakCheck.liveCollectorThreads());
    } finally {
      done.countDown();
      watchdog.join();
      handler.join();
    }
  }

  /** 6: a thread named like nothing in particular that runs collector code is one. */
  @Test
  void collectorThreadsAreFoundByTheirStack_notTheirName() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(2, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("x").build());
    try (CollectorRun run = CollectorRun.start(c, 2, controller)) {
      controller.awaitStartedCount(2, Duration.ofSeconds(10));
      List<String> alive = CollectorLeakCheck.liveCollectorThreads();
      // handler threads have no name at all: found by their stacks
      assertTrue(
          alive.stream().filter(String::isEmpty).count() == 2
              && alive.contains("x-owner")
              && alive.contains("x-committer")
              && alive.contains("test-process-x"),
          alive.toString());
      controller.releaseAll();
      run.await();
    }
  }

  /**
   * 6: the check compares each test with itself: a leak left by one test fails that test, and the
   * next test, which leaks nothing, passes although the leaked threads are still alive.
   */
  @Test
  void leakFailsOnlyTheTestThatLeaked() throws Exception {
    var extension = new CollectorLeakCheck();
    ExtensionContext first = context("leaking test");
    extension.beforeEach(first);
    Collector<Long> leaked =
        Collecting.open(
            FakeSource.generated(100, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("leak1").build());
    try {
      leaked.next();
      var e = assertThrows(AssertionError.class, () -> extension.afterEach(first));
      assertTrue(
          e.getMessage().contains("leaking test") && e.getMessage().contains("leak1-"),
          e.getMessage());
      ExtensionContext second = context("innocent test");
      extension.beforeEach(second);
      extension.afterEach(second); // the leak of the first test is still alive: not blamed here
    } finally {
      leaked.close();
    }
  }

  @Test
  void injectedController_scriptsCompletionOrder(CompletionController<Long> controller)
      throws Exception {
    var store = new RecordingCheckpointStore();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(3, 1), store, CollectorOptions.builder().name("scripted").build());
    var order = new ConcurrentLinkedQueue<Long>();
    try (CollectorRun run =
        CollectorRun.start(c, 3, controller.wrap(b -> order.add(b.sequence())))) {
      controller.awaitStartedCount(3, Duration.ofSeconds(10));
      controller.release(2);
      controller.awaitFinished(2, Duration.ofSeconds(10));
      controller.release(0);
      controller.awaitFinished(0, Duration.ofSeconds(10));
      controller.release(1);
      assertEquals(3, run.await().batches());
    }
    assertEquals(List.of(2L, 0L, 1L), List.copyOf(order));
    // the extension checks after this test that no "scripted-*" thread is left
  }

  /** 7: closing a run whose handlers are held ends it (collector first) instead of hanging. */
  @Test
  void collectorRun_closeWhileHandlersAreHeld_endsTheRunAndClosesTheCollector() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(10, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("held").build());
    CollectorRun run = CollectorRun.start(c, 4, controller.wrap(b -> {}));
    controller.awaitStartedCount(4, Duration.ofSeconds(10));
    run.close(); // never released: close must cancel the run, not wait for the batches
    assertTrue(run.isDone());
    assertTrue(run.awaitFailure(Duration.ofSeconds(1)) instanceof InterruptedException);
    assertThrows(dev.collector.CollectorClosedException.class, () -> c.process(1, b -> {}));
  }

  /** 7: a run that does not end in time fails the wait with the process() thread's stack. */
  @Test
  void collectorRun_awaitTimesOut_namingTheThread() throws Exception {
    var controller = new CompletionController<Long>();
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(2, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("slow").build());
    try (CollectorRun run = CollectorRun.start(c, 2, controller)) {
      var e = assertThrows(AssertionError.class, () -> run.await(Duration.ofMillis(50)));
      assertTrue(e.getMessage().contains("did not end within"), e.getMessage());
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A minimal ExtensionContext: a display name, a unique id and a store. */
  private static ExtensionContext context(String name) {
    Map<Object, Object> values = new HashMap<>();
    ExtensionContext.Store store =
        (ExtensionContext.Store)
            Proxy.newProxyInstance(
                ExtensionContext.Store.class.getClassLoader(),
                new Class<?>[] {ExtensionContext.Store.class},
                (p, m, a) ->
                    switch (m.getName()) {
                      case "put" -> values.put(a[0], a[1]);
                      case "remove", "get" ->
                          m.getName().equals("get") ? values.get(a[0]) : values.remove(a[0]);
                      default -> throw new UnsupportedOperationException(m.getName());
                    });
    return (ExtensionContext)
        Proxy.newProxyInstance(
            ExtensionContext.class.getClassLoader(),
            new Class<?>[] {ExtensionContext.class},
            (p, m, a) ->
                switch (m.getName()) {
                  case "getStore" -> store;
                  case "getUniqueId" -> "[test:" + name + "]";
                  case "getDisplayName" -> name;
                  default -> throw new UnsupportedOperationException(m.getName());
                });
  }
}
