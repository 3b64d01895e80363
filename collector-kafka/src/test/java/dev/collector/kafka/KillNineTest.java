package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * G2/G3 per partition, for real: a child JVM consumes with a collector and is killed with SIGKILL
 * ({@code destroyForcibly}) at seeded-random moments, then restarted, at least 10 times. After
 * every kill: every offset below a partition's committed offset was handled, and what the killed
 * run handled but left uncommitted -- what the next run replays -- is at most {@code depth} batches
 * of at most {@code maxBatch} records over all partitions. In the end every record was handled.
 * Rerun with {@code -Dcollector.seed=N}.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KillNineTest {

  private static final int KILLS = System.getenv("CI") != null ? 15 : 10;
  private static final int PARTITIONS = 4;
  private static final int DEPTH = 8;
  private static final int MAX_BATCH = 25;

  @TempDir Path dir;

  @Test
  void killNine_nothingLost_replayPerRunBounded(Broker broker) throws Exception {
    long seed = Kit.seed();
    String context = "seed " + seed + " (rerun with -Dcollector.seed=" + seed + "): ";
    System.out.println("KillNineTest " + context);
    var random = new Random(seed);
    String topic = Kit.unique("crash");
    Kit.createTopic(broker, topic, PARTITIONS);
    Kit.produce(broker, topic, 10_000, i -> "k" + i);
    Map<TopicPartition, Long> ends = Kit.endOffsets(broker, topic, PARTITIONS);
    String group = Kit.unique("g");
    int maxReplay = 0;
    long started = System.nanoTime();
    for (int run = 0; run < KILLS; run++) {
      Path file = dir.resolve("handled-" + run + ".txt");
      int more = random.nextInt(40); // 0: killed while starting up
      Process child = start(broker, topic, group, file);
      try {
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(2))
            .until(() -> !child.isAlive() || lines(file).size() >= more);
      } finally {
        child.destroyForcibly(); // SIGKILL
        assertTrue(child.waitFor(30, TimeUnit.SECONDS), context + "child did not die");
      }
      Map<TopicPartition, Long> committed = Kit.committed(broker, group);
      Map<TopicPartition, BitSet> all = handled(topic, run);
      for (var e : committed.entrySet()) {
        int gap = all.getOrDefault(e.getKey(), new BitSet()).nextClearBit(0);
        assertTrue(
            gap >= e.getValue(),
            context
                + "kill "
                + run
                + ": "
                + e.getKey()
                + " committed at "
                + e.getValue()
                + " but offset "
                + gap
                + " was never handled");
      }
      int replay = 0;
      for (String line : lines(file)) {
        String[] parts = line.split(" ");
        TopicPartition tp = new TopicPartition(topic, Integer.parseInt(parts[0]));
        long c = committed.getOrDefault(tp, 0L);
        for (int i = 1; i < parts.length; i++) {
          if (Long.parseLong(parts[i]) >= c) {
            replay++;
          }
        }
      }
      assertTrue(
          replay <= DEPTH * MAX_BATCH,
          context
              + "kill "
              + run
              + " leaves "
              + replay
              + " handled-but-uncommitted records, more than depth "
              + DEPTH
              + " x "
              + MAX_BATCH);
      maxReplay = Math.max(maxReplay, replay);
    }
    Path last = dir.resolve("handled-final.txt");
    Process child = start(broker, topic, group, last);
    try {
      await().atMost(Duration.ofSeconds(60)).until(() -> ends.equals(Kit.committed(broker, group)));
    } finally {
      child.destroyForcibly();
      child.waitFor(30, TimeUnit.SECONDS);
    }
    Map<TopicPartition, BitSet> all = handled(topic, KILLS + 1);
    for (var e : ends.entrySet()) {
      assertEquals(
          e.getValue().intValue(),
          all.getOrDefault(e.getKey(), new BitSet()).cardinality(),
          context + "records of " + e.getKey() + " never handled");
    }
    System.out.printf(
        "%skills=%d depth=%d maxBatch=%d maxReplayObserved=%d records in %d ms%n",
        context, KILLS, DEPTH, MAX_BATCH, maxReplay, (System.nanoTime() - started) / 1_000_000);
  }

  private Process start(Broker broker, String topic, String group, Path file) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(
            java,
            "-Xmx128m",
            "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
            "-cp",
            System.getProperty("java.class.path"),
            CrashChild.class.getName(),
            broker.bootstrap(),
            topic,
            group,
            file.toString(),
            Integer.toString(DEPTH),
            Integer.toString(MAX_BATCH))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  /** Complete lines only: a kill may cut the last one. */
  static List<String> lines(Path file) throws IOException {
    if (!Files.exists(file)) {
      return List.of();
    }
    String text = Files.readString(file, StandardCharsets.UTF_8);
    int end = text.lastIndexOf('\n');
    return end < 0 ? List.of() : text.substring(0, end).lines().toList();
  }

  private Map<TopicPartition, BitSet> handled(String topic, int runs) throws IOException {
    Map<TopicPartition, BitSet> all = new HashMap<>();
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        for (String line : lines(f)) {
          String[] parts = line.split(" ");
          BitSet set =
              all.computeIfAbsent(
                  new TopicPartition(topic, Integer.parseInt(parts[0])), k -> new BitSet());
          for (int i = 1; i < parts.length; i++) {
            set.set(Integer.parseInt(parts[i]));
          }
        }
      }
    }
    return all;
  }
}
