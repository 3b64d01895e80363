package dev.collector.benchmarks;

import dev.collector.BatchSource;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.core.Collecting;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;

/**
 * Heap retained by a run, measured outside JMH in the benchmark's own JVM: used heap after repeated
 * {@code System.gc()} in one state minus the same in another, divided by the number of batches that
 * differ. Every batch's records and resume token are built before the first measurement, so the
 * payload (records and token) is excluded from every number here.
 */
final class MemoryProbe {

  /**
   * What one probe measured, in bytes per batch.
   *
   * @param depth the window depth used
   * @param ringSlot heap of the run's slot ring and fixed run state per slot, measured with one
   *     batch running and the owner blocked fetching the second (the ring is allocated for all
   *     {@code depth} slots when the run starts)
   * @param waiting heap retained per finished batch waiting for an earlier one, over the state
   *     above (its slot already counted in {@code ringSlot})
   * @param running heap retained per running (parked) batch, everything included: its ring slot,
   *     the collector's per-batch objects and its virtual thread with the thread's frozen stack
   * @param bareThread heap retained per bare virtual thread parked in the same handler code ({@code
   *     latch.await()}) started with {@code Thread.ofVirtual().start}, no collector
   */
  record Result(int depth, double ringSlot, double waiting, double running, double bareThread) {

    /** The collector's own bytes per running batch: {@code running - bareThread}. */
    double collectorShare() {
      return running - bareThread;
    }

    /** A finished waiting batch, all in: its slot of the ring plus what it retains beyond. */
    double waitingAllIn() {
      return ringSlot + waiting;
    }
  }

  private MemoryProbe() {}

  /**
   * Runs each probe once at a small depth to load and initialise every class involved (so one-time
   * static state is not counted), then {@code repeats} times, keeping the median of each number.
   */
  static Result measure(int depth, int repeats) throws Exception {
    waiting(1024);
    running(1024);
    bareThreads(1024);
    double[] ring = new double[repeats];
    double[] waiting = new double[repeats];
    double[] running = new double[repeats];
    double[] bare = new double[repeats];
    for (int i = 0; i < repeats; i++) {
      double[] w = waiting(depth);
      ring[i] = w[0];
      waiting[i] = w[1];
      running[i] = running(depth);
      bare[i] = bareThreads(depth);
      System.out.printf(
          Locale.ROOT,
          "memory probe %d: ring slot %.1f, waiting %.1f, running %.1f,"
              + " bare virtual thread %.1f B%n",
          i,
          ring[i],
          waiting[i],
          running[i],
          bare[i]);
    }
    return new Result(depth, median(ring), median(waiting), median(running), median(bare));
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /**
   * Batch 0's handler blocks; the source hands out batch 0, then blocks (state B: the ring
   * allocated, one batch running); then it hands out batches 1 to depth - 1, whose handlers return
   * at once and wait for batch 0 (state C).
   *
   * @return {(B - before) / depth, (C - B) / (depth - 1)}
   */
  private static double[] waiting(int depth) throws Exception {
    var source = new GatedSource(depth);
    var release = new CountDownLatch(1);
    long[] heap = new long[3];
    try (Collector<Integer> c =
        Collecting.open(source, Collecting.inMemoryStore(), CollectorOptions.defaults())) {
      heap[0] = usedHeap();
      source.permits.release(1);
      Thread owner =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      c.process(
                          depth,
                          b -> {
                            if (b.records().get(0) == 0) {
                              release.await();
                            }
                          });
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                  });
      while (c.progress().running() < 1 || !source.permits.hasQueuedThreads()) {
        Thread.sleep(10); // polling a benchmark fixture, not ordering a test
      }
      heap[1] = usedHeap();
      source.permits.release(depth - 1);
      while (c.progress().waiting() < depth - 1) {
        Thread.sleep(10);
      }
      heap[2] = usedHeap();
      release.countDown();
      owner.join();
    }
    return new double[] {
      (double) (heap[1] - heap[0]) / depth, (double) (heap[2] - heap[1]) / (depth - 1)
    };
  }

  /** Every handler blocks: {@code depth} batches running; (after - before) / depth. */
  private static double running(int depth) throws Exception {
    var source = new GatedSource(depth);
    source.permits.release(depth);
    var release = new CountDownLatch(1);
    double perBatch;
    try (Collector<Integer> c =
        Collecting.open(source, Collecting.inMemoryStore(), CollectorOptions.defaults())) {
      long before = usedHeap();
      Thread owner =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      c.process(depth, b -> release.await());
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                  });
      while (c.progress().running() < depth) {
        Thread.sleep(10);
      }
      perBatch = (double) (usedHeap() - before) / depth;
      release.countDown();
      owner.join();
    }
    return perBatch;
  }

  /** {@code depth} bare virtual threads parked in {@code latch.await()}. */
  private static double bareThreads(int depth) throws Exception {
    var release = new CountDownLatch(1);
    Runnable handler =
        () -> {
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        };
    long before = usedHeap();
    List<Thread> threads = new ArrayList<>(depth);
    for (int i = 0; i < depth; i++) {
      threads.add(Thread.ofVirtual().start(handler));
    }
    while (threads.stream().anyMatch(t -> t.getState() != Thread.State.WAITING)) {
      Thread.sleep(10);
    }
    double perThread = (double) (usedHeap() - before) / depth;
    release.countDown();
    for (Thread t : threads) {
      t.join();
    }
    return perThread;
  }

  static long usedHeap() throws InterruptedException {
    var memory = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  /**
   * {@code size} one-record batches, built up front (records and tokens), handed out one per
   * permit; {@code next()} ends the source after the last without taking a permit.
   */
  private static final class GatedSource implements BatchSource<Integer> {
    final Semaphore permits = new Semaphore(0);
    private final List<SourceBatch<Integer>> batches;

    GatedSource(int size) {
      batches = new ArrayList<>(size);
      for (int i = 0; i < size; i++) {
        batches.add(new SourceBatch<>(List.of(i), Integer.toString(i + 1)));
      }
    }

    @Override
    public SourceReader<Integer> open(String resumeToken) {
      return new SourceReader<>() {
        private int next;

        @Override
        public @Nullable SourceBatch<Integer> next() throws InterruptedException {
          if (next >= batches.size()) {
            return null;
          }
          permits.acquire();
          return batches.get(next++);
        }

        @Override
        public void close() {}
      };
    }
  }
}
