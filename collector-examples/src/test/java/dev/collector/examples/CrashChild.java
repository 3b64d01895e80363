package dev.collector.examples;

import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.core.Collecting;
import dev.collector.core.LineSourceOptions;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * The process {@link KillNineCrashTest} kills: a collector over a line file with the file store,
 * whose handler records every batch it handled, with its record ids, in an append-only file before
 * returning. Args: log, checkpoint, handled, depth.
 */
public final class CrashChild {
  private CrashChild() {}

  /**
   * Runs until the log is processed (exit 0) or the process is killed.
   *
   * @param args log file, checkpoint file, handled file, depth
   * @throws Exception on failure (exit 1)
   */
  public static void main(String[] args) throws Exception {
    Path log = Path.of(args[0]);
    int depth = Integer.parseInt(args[3]);
    try (HandledFile handled = new HandledFile(Path.of(args[2]));
        CheckpointStore store = Collecting.fileStore(Path.of(args[1]), log.toString());
        Collector<String> collector =
            Collecting.open(
                Collecting.lineFileSource(log, LineSourceOptions.builder().maxLines(10).build()),
                store,
                CollectorOptions.builder().name("crash").build())) {
      collector.process(
          depth,
          batch -> {
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 2_000_000));
            StringBuilder line = new StringBuilder().append(batch.sequence());
            for (String record : batch.records()) {
              line.append(' ').append(record.substring(3)); // "id N"
            }
            handled.append(line); // in the page cache once written: survives kill -9
          });
    }
  }
}
