package dev.collector.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.core.Collecting;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Case 9 of issue 15, for real: a child JVM follows a line file that this JVM keeps appending to,
 * and is killed with SIGKILL at seeded-random moments (after it caught up with the writer, where
 * batches end at the end of the file as it stood), then restarted, until the writer wrote its last
 * line. Batch boundaries of replays may differ; what must hold is that every record keeps its
 * number ({@code Collecting.lineFileRecordCount}) in every delivery, so a sink that deduplicates by
 * (file identity, record number) gets every line exactly once. Rerun with {@code
 * -Dcollector.seed=N}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KillNineFollowTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());
  private static final int KILLS = System.getenv("CI") != null ? 12 : 8;
  private static final int DEPTH = 16;
  private static final int RECORDS = 40_000;

  @TempDir Path dir;

  /** One line of the handled file: a batch as one run's handler saw it. */
  private record Handled(long sequence, String token, List<String> records) {}

  @Test
  void killNineUnderALiveWriter_everyRecordKeepsItsNumber_dedupByItLosesNothing() throws Exception {
    String context = "seed " + SEED + " (rerun with -Dcollector.seed=" + SEED + "): ";
    var random = new Random(SEED);
    Path log = dir.resolve("live.log");
    Files.writeString(log, "");
    Path checkpoint = dir.resolve("live.checkpoint");
    Path handled = dir.resolve("live.handled");

    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger written = new AtomicInteger();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              var pace = new Random(SEED + 1);
              try (FileChannel out = FileChannel.open(log, StandardOpenOption.APPEND)) {
                for (int next = 0; next < RECORDS; ) {
                  StringBuilder chunk = new StringBuilder();
                  for (int n = 1 + pace.nextInt(20); n > 0 && next < RECORDS; n--) {
                    chunk.append("id ").append(next++).append('\n');
                  }
                  ByteBuffer bytes =
                      ByteBuffer.wrap(chunk.toString().getBytes(StandardCharsets.UTF_8));
                  while (bytes.hasRemaining()) {
                    out.write(bytes);
                  }
                  written.set(next);
                  LockSupport.parkNanos(pace.nextInt(2_000_000, 5_000_000)); // a writer's pace
                }
              } catch (IOException e) {
                throw new IllegalStateException(e);
              } finally {
                writing.set(false);
              }
            },
            Thread::startVirtualThread);

    int kills = 0;
    int killsUnderWriter = 0;
    while (kills < KILLS && writing.get()) {
      int more = 1 + random.nextInt(8);
      Process child = start(log, checkpoint, handled);
      // kill once the child has caught up with the writer, where batches end at the end of
      // the file as it stood, and a few batches later
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(5))
          .until(
              () ->
                  !child.isAlive()
                      || !writing.get()
                      || highestId(handled(handled)) >= written.get() - 20);
      int before = handled(handled).size();
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(2))
          .until(
              () -> !child.isAlive() || handled(handled).size() >= before + more || !writing.get());
      if (!child.isAlive()) {
        throw new AssertionError(
            context
                + "child ended: "
                + new String(child.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
      }
      boolean live = writing.get();
      child.destroyForcibly(); // SIGKILL
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), context + "child did not die");
      kills++;
      killsUnderWriter += live ? 1 : 0;
    }
    writer.get(60, TimeUnit.SECONDS);
    Files.writeString(log, "end\n", StandardOpenOption.APPEND);
    Process last = start(log, checkpoint, handled);
    assertTrue(last.waitFor(60, TimeUnit.SECONDS), context + "final run did not finish");
    assertEquals(
        0,
        last.exitValue(),
        context
            + "final run failed: "
            + new String(last.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));

    List<Handled> batches = handled(handled);
    // The contract (Collecting.lineFileRecordCount): a record's number in its file is the same
    // in every delivery, so (identity, number) is a key a sink can deduplicate by; batch
    // boundaries, and so sequences, may differ between a delivery and its replay.
    Map<String, String> byKey = new HashMap<>();
    Map<Long, List<String>> bySequence = new HashMap<>();
    int replayed = 0;
    int differing = 0;
    for (Handled b : batches) {
      String identity = identity(b);
      long first = Collecting.lineFileRecordCount(b.token()) - b.records().size();
      for (int i = 0; i < b.records().size(); i++) {
        String key = identity + "#" + (first + i);
        String earlier = byKey.putIfAbsent(key, b.records().get(i));
        assertTrue(
            earlier == null || earlier.equals(b.records().get(i)),
            context + "record " + key + " was " + earlier + ", replayed as " + b.records().get(i));
      }
      List<String> before = bySequence.putIfAbsent(b.sequence(), b.records());
      if (before != null) {
        replayed++;
        differing += before.equals(b.records()) ? 0 : 1;
      }
    }
    assertEquals(RECORDS + 1, byKey.size(), context + "records lost, or numbered twice");
    String identity = identity(batches.get(0));
    for (int id = 0; id < RECORDS; id++) {
      assertEquals("id_" + id, byKey.get(identity + "#" + id), context + "record number " + id);
    }
    assertTrue(killsUnderWriter > 0, context + "no kill happened while the writer wrote");
    System.out.printf(
        "%skills=%d (%d under the writer) batches handled=%d, replayed=%d of"
            + " which %d with other boundaries than their first delivery%n",
        context, kills, killsUnderWriter, batches.size(), replayed, differing);
  }

  private static String identity(Handled batch) {
    return batch.token().substring(0, batch.token().lastIndexOf('@'));
  }

  private static int highestId(List<Handled> batches) {
    int highest = -1;
    for (Handled b : batches) {
      for (String r : b.records()) {
        if (r.startsWith("id_")) {
          highest = Math.max(highest, Integer.parseInt(r.substring(3)));
        }
      }
    }
    return highest;
  }

  private Process start(Path log, Path checkpoint, Path handled) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(
            java,
            "-cp",
            System.getProperty("java.class.path"),
            FollowCrashChild.class.getName(),
            log.toString(),
            checkpoint.toString(),
            handled.toString(),
            Integer.toString(DEPTH))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  /** Complete lines only: a kill may cut the last one. */
  private static List<Handled> handled(Path handled) throws IOException {
    List<Handled> batches = new ArrayList<>();
    if (!Files.exists(handled)) {
      return batches;
    }
    String text = Files.readString(handled, StandardCharsets.UTF_8);
    int end = text.lastIndexOf('\n');
    for (String line : end < 0 ? List.<String>of() : text.substring(0, end).lines().toList()) {
      String[] parts = line.split(" ", -1);
      batches.add(
          new Handled(Long.parseLong(parts[0]), parts[1], List.of(parts).subList(2, parts.length)));
    }
    return batches;
  }
}
