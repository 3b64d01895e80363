package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Case 10 of issue 15: a logrotate-style rotation (rename, the writer still appending to the
 * renamed file, then a new file) under a live writer and slow handlers. The run goes on: the old
 * file is read to its end and committed, then the new file is followed, as {@code tail -F} does.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LineFileRotationTest {

  @TempDir Path dir;

  private static void append(FileChannel channel, String prefix, int from, int to)
      throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = from; i < to; i++) {
      text.append(prefix).append(' ').append(i).append('\n');
    }
    ByteBuffer bytes = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
    while (bytes.hasRemaining()) {
      channel.write(bytes);
    }
  }

  @Test
  void rotationUnderLoad_everyOldLineHandledAndCommitted_thenTheNewFileIsFollowed()
      throws Exception {
    Path file = dir.resolve("app.log");
    Files.writeString(file, "");
    var source =
        Collecting.lineFileSource(
            file, LineSourceOptions.builder().maxLines(10).follow(Duration.ofMillis(2)).build());
    Set<String> handled = ConcurrentHashMap.newKeySet();
    Path checkpoint = dir.resolve("app.checkpoint");
    try (CheckpointStore store = Collecting.fileStore(checkpoint, file.toString());
        Collector<String> collector = Collecting.open(source, store, CollectorOptions.defaults());
        FileChannel old = FileChannel.open(file, StandardOpenOption.APPEND)) {
      BackgroundRun run =
          BackgroundRun.start(
              collector,
              8,
              batch -> {
                Thread.sleep(20); // a slow sink: the window is full when the file is rotated
                handled.addAll(batch.records());
              });
      append(old, "old", 0, 290);
      await().atMost(Duration.ofSeconds(20)).until(() -> !handled.isEmpty() || run.isDone());
      Files.move(file, dir.resolve("app.log.1"));
      append(old, "old", 290, 300); // the writer has not reopened yet
      try (FileChannel fresh =
          FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        append(fresh, "new", 0, 100);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> handled.size() == 400 || run.isDone());
      assertFalse(run.isDone(), () -> "the run ended at the rotation: " + failure(run));
      assertTrue(collector.stop());
      run.await(Duration.ofSeconds(30));
      for (int i = 0; i < 300; i++) {
        assertTrue(handled.contains("old " + i), "old " + i + " never handled");
      }
      Checkpoint committed = store.load();
      String token = committed.resumeToken();
      assertTrue(
          token.startsWith(LineFileSource.identityOf(file) + "@" + Files.size(file)),
          "committed the end of the new file: " + token);
      assertEquals(100, Collecting.lineFileRecordCount(token), "every new line committed");
      assertTrue(
          committed.sequence() >= 40, "at least 30 old batches and 10 new ones: " + committed);
    }
  }

  private static String failure(BackgroundRun run) {
    try {
      return String.valueOf(run.awaitFailure(Duration.ofSeconds(1)));
    } catch (Exception | AssertionError e) {
      return String.valueOf(e);
    }
  }
}
