package dev.collector.benchmarks;

import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.core.Collecting;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import java.util.stream.Gatherers;
import java.util.stream.IntStream;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The systems compared, each running {@code items} items of {@code work} with at most {@code depth}
 * in flight. Every ordered peer "commits" its frontier (a volatile write) in order.
 */
final class Peers {
  private Peers() {}

  /** Work per item, by scenario. */
  static IntConsumer work(String scenario) {
    return switch (scenario) {
      case "noop-64", "durable-1024" -> i -> {};
      case "sleep1ms-64", "sleep1ms-1024" -> i -> sleep(1);
      case "skewed-256" -> i -> sleep(i % 100 == 0 ? 20 : 1);
      default -> throw new IllegalArgumentException("unknown scenario " + scenario);
    };
  }

  static int depth(String scenario) {
    return Integer.parseInt(scenario.substring(scenario.lastIndexOf('-') + 1));
  }

  static int items(String scenario) {
    return switch (scenario) {
      case "sleep1ms-64" -> 2_000;
      case "skewed-256" -> 5_000;
      default -> 20_000;
    };
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static volatile long committed;

  /** 1. Raw limit: a virtual thread per item and a semaphore; no order, nothing committed. */
  static void raw(int items, int depth, IntConsumer work) throws InterruptedException {
    var permits = new Semaphore(depth);
    var done = new CountDownLatch(items);
    for (int i = 0; i < items; i++) {
      permits.acquire();
      int item = i;
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  work.accept(item);
                } finally {
                  permits.release();
                  done.countDown();
                }
              });
    }
    done.await();
  }

  /** 2. The JDK's Gatherers.mapConcurrent: ordered, bounded, virtual threads. */
  static void mapConcurrent(int items, int depth, IntConsumer work) {
    IntStream.range(0, items)
        .boxed()
        .gather(
            Gatherers.mapConcurrent(
                depth,
                i -> {
                  work.accept(i);
                  return i;
                }))
        .forEachOrdered(i -> committed = i);
  }

  /** 3. Reactor's flatMapSequential on a virtual-thread scheduler. */
  static void reactor(int items, int depth, IntConsumer work, Scheduler scheduler) {
    Flux.range(0, items)
        .flatMapSequential(
            i ->
                Mono.fromCallable(
                        () -> {
                          work.accept(i);
                          return i;
                        })
                    .subscribeOn(scheduler),
            depth)
        .doOnNext(i -> committed = i)
        .blockLast();
  }

  static Scheduler virtualThreadScheduler(ExecutorService executor) {
    return Schedulers.fromExecutorService(executor);
  }

  static ExecutorService virtualThreads() {
    return Executors.newVirtualThreadPerTaskExecutor();
  }

  /**
   * 4. A naive ordered committer: virtual threads, a semaphore released when the frontier advances,
   * completions in a sorted set.
   */
  static void naive(int items, int depth, IntConsumer work) throws InterruptedException {
    var permits = new Semaphore(depth);
    var completed = new ConcurrentSkipListSet<Integer>();
    var lock = new ReentrantLock();
    var done = new CountDownLatch(items);
    int[] frontier = {0};
    for (int i = 0; i < items; i++) {
      permits.acquire();
      int item = i;
      Thread.ofVirtual()
          .start(
              () -> {
                work.accept(item);
                completed.add(item);
                lock.lock();
                try {
                  while (completed.remove(frontier[0])) {
                    committed = frontier[0]++;
                    permits.release();
                    done.countDown();
                  }
                } finally {
                  lock.unlock();
                }
              });
    }
    done.await();
  }

  /** 5. Collector.process over a list source, in-memory or file checkpoint store. */
  static void collector(
      List<List<Integer>> batches, int depth, IntConsumer work, CheckpointStore store)
      throws InterruptedException {
    try (Collector<Integer> c =
        Collecting.open(Collecting.listSource(batches), store, CollectorOptions.defaults())) {
      c.process(depth, b -> work.accept(b.records().get(0)));
    }
  }

  static List<List<Integer>> batches(int items) {
    List<List<Integer>> batches = new ArrayList<>(items);
    for (int i = 0; i < items; i++) {
      batches.add(List.of(i));
    }
    return batches;
  }

  static CheckpointStore fileStore(Path dir) throws IOException {
    Path file = Files.createTempFile(dir, "bench", ".checkpoint");
    Files.delete(file);
    return Collecting.fileStore(file, "bench");
  }
}
