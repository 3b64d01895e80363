package dev.collector.examples;

import dev.collector.BatchSource;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.core.Collecting;
import dev.collector.core.LineSourceOptions;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The README demo: processes a log file with {@code process(depth, handler)} and survives {@code
 * kill -9}.
 *
 * <p>Usage: {@code Demo [log file] [depth]}. Without a file it generates {@code
 * target/demo/sample.log} (1 000 000 lines) once. Next to the log it keeps {@code <log>.checkpoint}
 * (the durable file store) and {@code <log>.handled}, where the handler appends one line per batch
 * it handled, after 1-10 ms of simulated I/O. A progress line is printed four times a second. Run
 * it again after killing it: it resumes at the checkpoint and reports how many batches it replays
 * (handled before the crash, not yet committed): at most {@code depth}.
 */
public final class Demo {

  private Demo() {}

  /**
   * Runs the demo.
   *
   * @param args optional log file and depth
   * @throws Exception if the log cannot be read or the run fails
   */
  public static void main(String[] args) throws Exception {
    Path log = args.length > 0 ? Path.of(args[0]) : generateSample(Path.of("target/demo"));
    int depth = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    Path handledFile = Path.of(log + ".handled");
    BatchSource<String> source =
        Collecting.lineFileSource(log, LineSourceOptions.builder().maxLines(100).build());

    try (CheckpointStore store =
            Collecting.fileStore(Path.of(log + ".checkpoint"), log.toAbsolutePath().toString());
        Output output = new Output(handledFile);
        Collector<String> collector =
            Collecting.open(source, store, CollectorOptions.builder().name("demo").build())) {
      long resumeAt = collector.progress().committed();
      Set<Long> handledBefore = handledBatches(handledFile);
      long replay = handledBefore.stream().filter(s -> s >= resumeAt).count();
      if (resumeAt > 0 || !handledBefore.isEmpty()) {
        System.out.printf(
            "resuming %s at batch %d: %d batches were handled before the crash but not"
                + " committed, and are replayed (at most depth %d)%n",
            log, resumeAt, replay, depth);
      } else {
        System.out.printf("processing %s with depth %d%n", log, depth);
      }

      Thread progress = Thread.ofVirtual().name("demo-progress").start(() -> report(collector));
      ProcessSummary summary;
      try {
        summary =
            collector.process(
                depth,
                batch -> {
                  Thread.sleep(ThreadLocalRandom.current().nextInt(1, 11)); // simulated I/O
                  List<String> lines = batch.records();
                  output.append(
                      "batch "
                          + batch.sequence()
                          + " lines "
                          + lines.size()
                          + " first "
                          + (lines.isEmpty() ? "-" : lines.get(0))
                          + "\n");
                });
      } finally {
        progress.interrupt();
        progress.join();
      }
      double seconds = summary.duration().toNanos() / 1e9;
      System.out.printf(
          "done: %d batches, %d lines, %d commits in %.2f s (%.0f batches/s), %d replayed;"
              + " checkpoint at batch %d%n",
          summary.batches(),
          summary.records(),
          summary.commits(),
          seconds,
          summary.batches() / seconds,
          replay,
          summary.checkpoint().sequence());
    }
  }

  /** Appends lines to the output file from many handler threads. */
  private static final class Output implements AutoCloseable {
    private final FileChannel channel;
    private final ReentrantLock lock = new ReentrantLock();

    Output(Path file) throws IOException {
      channel =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    void append(String line) throws IOException {
      ByteBuffer bytes = ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8));
      lock.lock(); // a ReentrantLock around blocking I/O: it does not pin virtual threads
      try {
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  private static Set<Long> handledBatches(Path handledFile) throws IOException {
    Set<Long> batches = new HashSet<>();
    if (!Files.exists(handledFile)) {
      return batches;
    }
    for (String line : Files.readAllLines(handledFile, StandardCharsets.UTF_8)) {
      int end = line.indexOf(' ', 6);
      if (line.startsWith("batch ") && end > 6) {
        batches.add(Long.parseLong(line.substring(6, end)));
      }
    }
    return batches;
  }

  private static void report(Collector<String> collector) {
    long lastCommitted = collector.progress().committed();
    long lastTime = System.nanoTime();
    while (true) {
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        return; // the run ended
      }
      var p = collector.progress();
      long now = System.nanoTime();
      double rate = (p.committed() - lastCommitted) / ((now - lastTime) / 1e9);
      lastCommitted = p.committed();
      lastTime = now;
      System.out.printf("%s  %.0f batches/s%n", p, rate);
    }
  }

  private static Path generateSample(Path directory) throws IOException {
    Path log = directory.resolve("sample.log");
    if (Files.exists(log)) {
      return log;
    }
    Files.createDirectories(directory);
    try (BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
      for (int n = 0; n < 1_000_000; n++) {
        out.write(n + (n % 97 == 0 ? " ERROR disk latency high" : " INFO request served"));
        out.write('\n');
      }
    }
    return log;
  }
}
