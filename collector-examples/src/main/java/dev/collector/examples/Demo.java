package dev.collector.examples;

import dev.collector.BatchSource;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.core.Collecting;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The README demo: reads a generated log of {@code batches} batches of 100 lines with {@code
 * process(depth, handler)}, where the handler simulates 1-10 ms of I/O per batch, so batches
 * finish out of order while the checkpoint advances in order. Prints a progress line four times
 * a second and a final summary.
 *
 * <p>Arguments: {@code [batches] [depth]}, default 10000 and 64.
 */
public final class Demo {

  private Demo() {}

  /**
   * Runs the demo.
   *
   * @param args optional batch count and depth
   * @throws InterruptedException if interrupted
   */
  public static void main(String[] args) throws InterruptedException {
    int batches = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    int depth = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    var errors = new AtomicLong();

    try (Collector<String> collector =
        Collecting.open(
            generatedLog(batches, 100),
            Collecting.inMemoryStore(),
            CollectorOptions.builder().name("demo").build())) {
      Thread progress = Thread.ofVirtual().name("demo-progress").start(() -> report(collector));
      long start = System.nanoTime();
      ProcessSummary summary;
      try {
        summary =
            collector.process(
                depth,
                batch -> {
                  Thread.sleep(ThreadLocalRandom.current().nextInt(1, 11)); // simulated I/O
                  errors.addAndGet(
                      batch.records().stream().filter(line -> line.contains("ERROR")).count());
                });
      } finally {
        progress.interrupt();
        progress.join();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          "%ndone: %d batches, %d records, %d commits in %.2f s (%.0f batches/s); "
              + "%d ERROR lines; checkpoint %s%n",
          summary.batches(),
          summary.records(),
          summary.commits(),
          seconds,
          summary.batches() / seconds,
          errors.get(),
          summary.checkpoint());
    }
  }

  private static void report(Collector<String> collector) {
    long lastCommitted = collector.progress().committed();
    long lastTime = System.nanoTime();
    while (!Thread.currentThread().isInterrupted()) {
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        return;
      }
      var p = collector.progress();
      long now = System.nanoTime();
      double rate = (p.committed() - lastCommitted) / ((now - lastTime) / 1e9);
      lastCommitted = p.committed();
      lastTime = now;
      System.out.printf("%s  %.0f batches/s%n", p, rate);
    }
  }

  private static BatchSource<String> generatedLog(int batches, int linesPerBatch) {
    List<List<String>> log = new ArrayList<>(batches);
    for (int b = 0; b < batches; b++) {
      List<String> lines = new ArrayList<>(linesPerBatch);
      for (int i = 0; i < linesPerBatch; i++) {
        int n = b * linesPerBatch + i;
        lines.add(n + (n % 97 == 0 ? " ERROR disk latency high" : " INFO request served"));
      }
      log.add(lines);
    }
    return Collecting.listSource(log);
  }
}
