package dev.collector.examples;

import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.core.Collecting;
import dev.collector.core.LineSourceOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * The process {@link KillNineFollowTest} kills: a collector following a line file that another
 * process is still writing, with the file store. Its handler appends one line per batch to an
 * append-only file, "{@code <sequence> <resume token> <record> <record> ...}", and stops the
 * collector when it handles the record {@code end}. Args: log, checkpoint, handled, depth.
 */
public final class FollowCrashChild {
  private FollowCrashChild() {}

  /**
   * Runs until it handled {@code end} (exit 0) or the process is killed.
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
                Collecting.lineFileSource(
                    log,
                    LineSourceOptions.builder().maxLines(10).follow(Duration.ofMillis(2)).build()),
                store,
                CollectorOptions.builder().name("follow-crash").build())) {
      collector.process(
          depth,
          batch -> {
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(1_000_000, 20_000_000));
            StringBuilder line =
                new StringBuilder()
                    .append(batch.sequence())
                    .append(' ')
                    .append(batch.resumeToken().replace(' ', '_'));
            for (String record : batch.records()) {
              line.append(' ').append(record.replace(' ', '_'));
            }
            handled.append(line); // in the page cache once written: survives kill -9
            if (batch.records().contains("end")) {
              collector.stop();
            }
          });
    }
  }
}
