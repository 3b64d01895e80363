package dev.collector.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.core.Collecting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * G2, G3, G8 for real: a child JVM processes a line file with the file store and is killed with
 * SIGKILL ({@code Process.destroyForcibly()}) at seeded-random moments, then restarted, until the
 * file is done. After every kill the checkpoint file must parse, every committed batch must have
 * been handled, and what the next run replays must be at most {@code depth} batches; in the end
 * every record was handled at least once. Rerun with {@code -Dcollector.seed=N}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KillNineCrashTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());
  private static final int KILLS = System.getenv("CI") != null ? 30 : 20;
  private static final int DEPTH = 16;
  private static final int RECORDS = 20_000; // 2000 batches of 10 lines

  @TempDir Path dir;

  @Test
  void killNineAtRandomMoments_everyRecordHandled_replayBounded_checkpointAlwaysParses()
      throws Exception {
    String context = "seed " + SEED + " (rerun with -Dcollector.seed=" + SEED + "): ";
    var random = new Random(SEED);
    Path log = dir.resolve("input.log");
    StringBuilder content = new StringBuilder();
    for (int i = 0; i < RECORDS; i++) {
      content.append("id ").append(i).append('\n');
    }
    Files.writeString(log, content);
    Path checkpoint = dir.resolve("input.checkpoint");
    Path handled = dir.resolve("input.handled");

    int maxReplay = 0;
    int kills = 0;
    long started = System.nanoTime();
    while (kills < KILLS) {
      int before = handledBatches(handled).size();
      int more = random.nextInt(12); // 0: kill while starting up
      Process child = start(log, checkpoint, handled);
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(2))
          .until(() -> !child.isAlive() || handledBatches(handled).size() >= before + more);
      if (!child.isAlive()) {
        break; // finished the file before this kill
      }
      child.destroyForcibly(); // SIGKILL
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), context + "child did not die");
      kills++;

      Checkpoint durable = loadCheckpoint(checkpoint, log, context);
      Set<Long> done = handledBatches(handled);
      for (long s = 0; s < durable.sequence(); s++) {
        assertTrue(done.contains(s), context + "batch " + s + " committed but never handled");
      }
      int replay = (int) done.stream().filter(s -> s >= durable.sequence()).count();
      assertTrue(
          replay <= DEPTH,
          context
              + "kill "
              + kills
              + " leaves "
              + replay
              + " handled-but-uncommitted batches, depth "
              + DEPTH);
      maxReplay = Math.max(maxReplay, replay);
    }
    Process last = start(log, checkpoint, handled);
    assertTrue(last.waitFor(60, TimeUnit.SECONDS), context + "final run did not finish");
    assertEquals(
        0,
        last.exitValue(),
        context
            + "final run failed: "
            + new String(last.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));

    BitSet seen = handledRecords(handled);
    assertEquals(RECORDS, seen.cardinality(), context + "records lost");
    assertEquals(RECORDS / 10, loadCheckpoint(checkpoint, log, context).sequence(), context);
    assertEquals(KILLS, kills, context + "the file was done before every kill happened");
    System.out.printf(
        "%skills=%d records=%d depth=%d maxReplayObserved=%d in %d ms%n",
        context, kills, RECORDS, DEPTH, maxReplay, (System.nanoTime() - started) / 1_000_000);
  }

  private Process start(Path log, Path checkpoint, Path handled) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(
            java,
            "-cp",
            System.getProperty("java.class.path"),
            CrashChild.class.getName(),
            log.toString(),
            checkpoint.toString(),
            handled.toString(),
            Integer.toString(DEPTH))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  private static Checkpoint loadCheckpoint(Path checkpoint, Path log, String context)
      throws IOException {
    try (CheckpointStore store = Collecting.fileStore(checkpoint, log.toString())) {
      Checkpoint c = store.load(); // throws if torn or corrupt
      return c == null ? Checkpoint.INITIAL : c;
    } catch (IOException e) {
      throw new AssertionError(context + "checkpoint unreadable after kill -9", e);
    }
  }

  /** Complete lines only: a kill may cut the last one. */
  private static List<String> completeLines(Path handled) throws IOException {
    if (!Files.exists(handled)) {
      return List.of();
    }
    String text = Files.readString(handled, StandardCharsets.UTF_8);
    int end = text.lastIndexOf('\n');
    return end < 0 ? List.of() : text.substring(0, end).lines().toList();
  }

  private static Set<Long> handledBatches(Path handled) throws IOException {
    Set<Long> batches = new HashSet<>();
    for (String line : completeLines(handled)) {
      int space = line.indexOf(' ');
      batches.add(Long.parseLong(space < 0 ? line : line.substring(0, space)));
    }
    return batches;
  }

  private static BitSet handledRecords(Path handled) throws IOException {
    BitSet seen = new BitSet(RECORDS);
    for (String line : completeLines(handled)) {
      String[] parts = line.split(" ", -1);
      for (int i = 1; i < parts.length; i++) {
        seen.set(Integer.parseInt(parts[i]));
      }
    }
    return seen;
  }
}
