package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * G8 under SIGKILL in a tight commit loop: a child JVM commits as fast as it can (tokens of varying
 * size, so the file size changes every commit) and prints each sequence once its commit returned;
 * the parent kills it with SIGKILL after a random number of commits. After every kill the file must
 * parse, hold the last acknowledged checkpoint or the one in flight (never a torn or older one),
 * and a new store must leave no temporary file behind.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StoreAndSourceAttackKillNineTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());
  private static final int KILLS = 8;

  @TempDir Path dir;

  /** The child: commit sequence n+1, n+2, ... forever, printing each after commit returns. */
  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (CheckpointStore store = Collecting.fileStore(file, "kill-nine")) {
      Checkpoint last = store.load();
      long seq = last == null ? 0 : last.sequence();
      Random random = new Random(seq);
      out.println("ready " + seq);
      for (; ; ) {
        seq++;
        store.commit(new Checkpoint(seq, token(seq, random)));
        out.println(seq);
      }
    }
  }

  static String token(long seq, Random random) {
    return "x".repeat(random.nextInt(3000)) + "|" + seq;
  }

  @Test
  void killNineInATightCommitLoop_fileAlwaysParses_holdsTheLastOrTheInFlightCheckpoint()
      throws Exception {
    String context = "seed " + SEED + " (rerun with -Dcollector.seed=" + SEED + "): ";
    Random random = new Random(SEED);
    Path file = dir.resolve("cp");
    for (int kill = 0; kill < KILLS; kill++) {
      long target = 20 + random.nextInt(300);
      Process child = start(file);
      AtomicLong lastAcked = new AtomicLong(-1);
      var reached = new CountDownLatch(1);
      Thread reader =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try (var in =
                        new BufferedReader(
                            new InputStreamReader(
                                child.getInputStream(), StandardCharsets.UTF_8))) {
                      long first = -1;
                      for (String line; (line = in.readLine()) != null; ) {
                        try {
                          if (line.startsWith("ready ")) {
                            first = Long.parseLong(line.substring(6));
                            lastAcked.set(first);
                          } else if (first >= 0) {
                            // max: a kill may cut the last line to a prefix, a smaller number
                            long n = lastAcked.accumulateAndGet(Long.parseLong(line), Math::max);
                            if (n - first >= target) {
                              reached.countDown();
                            }
                          }
                        } catch (NumberFormatException notOurs) {
                          // a JVM warning on stdout, or a line cut by the kill
                        }
                      }
                    } catch (IOException e) {
                      // the kill closed the pipe
                    } finally {
                      reached.countDown();
                    }
                  });
      assertTrue(reached.await(60, TimeUnit.SECONDS), context + "child made no progress");
      child.destroyForcibly(); // SIGKILL
      assertTrue(child.waitFor(30, TimeUnit.SECONDS));
      reader.join(30_000);
      long acked = lastAcked.get();
      assertTrue(
          acked >= 0,
          context
              + "child never started: "
              + Files.readString(dir.resolveSibling(dir.getFileName() + ".child-stderr")));
      try (CheckpointStore store = Collecting.fileStore(file, "kill-nine")) {
        Checkpoint loaded;
        try {
          loaded = store.load();
        } catch (IOException e) {
          throw new AssertionError(context + "kill " + kill + ": checkpoint unreadable", e);
        }
        assertNotNull(loaded, context + "kill " + kill + ": no checkpoint after " + acked);
        // Durable: never older than a commit that returned. (What the parent read of the child's
        // stdout can lag what the child committed by more than one line at the kill, so the
        // upper bound is not observable here; the token check below catches a torn file.)
        assertTrue(
            loaded.sequence() >= acked,
            context + "kill " + kill + ": acknowledged " + acked + ", loaded " + loaded.sequence());
        assertTrue(
            loaded.resumeToken().endsWith("|" + loaded.sequence()),
            context + "token of another commit: " + loaded.sequence());
      }
      try (var files = Files.list(dir)) {
        List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
        assertEquals(
            List.of("cp", "cp.lock"),
            names,
            context + "kill " + kill + ": left behind after a new store opened and closed");
      }
    }
  }

  private Process start(Path file) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp =
        System.getProperty("java.class.path", "")
            + File.pathSeparator
            + System.getProperty("jdk.module.path", "");
    return new ProcessBuilder(
            java, "-cp", cp, StoreAndSourceAttackKillNineTest.class.getName(), file.toString())
        .redirectError(dir.resolveSibling(dir.getFileName() + ".child-stderr").toFile())
        .start();
  }
}
