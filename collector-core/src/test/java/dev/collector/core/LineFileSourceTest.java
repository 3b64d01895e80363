package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchSource;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.core.LineSourceOptions.LongLines;
import dev.collector.core.LineSourceOptions.MalformedInput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The built-in line-file source: batching, resume, limits, decoding, damage, follow mode. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class LineFileSourceTest {

  @TempDir Path dir;

  private Path write(String content) throws IOException {
    Path file = dir.resolve("app.log");
    Files.writeString(file, content, StandardCharsets.UTF_8);
    return file;
  }

  static List<SourceBatch<String>> readAll(BatchSource<String> source, String token)
      throws Exception {
    List<SourceBatch<String>> batches = new ArrayList<>();
    try (SourceReader<String> reader = source.open(token)) {
      for (SourceBatch<String> b; (b = reader.next()) != null; ) {
        batches.add(b);
      }
    }
    return batches;
  }

  private static List<String> lines(List<SourceBatch<String>> batches) {
    return batches.stream().flatMap(b -> b.records().stream()).toList();
  }

  @Test
  void finite_batchesOfMaxLines_lastLineWithoutNewlineDelivered() throws Exception {
    Path file = write("a\nbb\r\nccc\nd");
    var source = Collecting.lineFileSource(file, LineSourceOptions.builder().maxLines(2).build());
    List<SourceBatch<String>> batches = readAll(source, "");
    assertEquals(
        List.of(List.of("a", "bb"), List.of("ccc", "d")),
        batches.stream().map(SourceBatch::records).toList());
    assertEquals(6, offsetOf(batches.get(0).resumeToken()), batches.get(0).resumeToken());
    assertEquals(Files.size(file), offsetOf(batches.get(1).resumeToken()));
  }

  @Test
  void resume_atEveryTokenOfEveryBatchSize_readsExactlyTheRest() throws Exception {
    List<String> all = List.of("one", "", "three", "f\u00f6ur", "five five", "6", "seven");
    Path file = write(String.join("\n", all) + "\n");
    for (int maxLines = 1; maxLines <= all.size(); maxLines++) {
      var source =
          Collecting.lineFileSource(file, LineSourceOptions.builder().maxLines(maxLines).build());
      List<SourceBatch<String>> batches = readAll(source, "");
      assertEquals(all, lines(batches));
      int consumed = 0;
      for (SourceBatch<String> b : batches) {
        consumed += b.records().size();
        assertEquals(
            all.subList(consumed, all.size()),
            lines(readAll(source, b.resumeToken())),
            "resuming at " + b.resumeToken() + " with maxLines " + maxLines);
      }
    }
  }

  @Test
  void longLine_failNamesOffset_splitDeliversPieces_memoryStaysBounded() throws Exception {
    Path file = write("ok\n" + "x".repeat(10) + "\nend\n");
    var failing =
        Collecting.lineFileSource(
            file, LineSourceOptions.builder().maxLineLength(4, LongLines.FAIL).build());
    var e = assertThrows(IOException.class, () -> readAll(failing, ""));
    assertTrue(e.getMessage().contains("byte offset 3"), e.getMessage());

    var splitting =
        Collecting.lineFileSource(
            file, LineSourceOptions.builder().maxLineLength(4, LongLines.SPLIT).build());
    assertEquals(List.of("ok", "xxxx", "xxxx", "xx", "end"), lines(readAll(splitting, "")));

    Path huge = dir.resolve("huge.log");
    Files.write(huge, new byte[32 << 20]); // 32 MiB without a newline
    var bounded =
        Collecting.lineFileSource(
            huge, LineSourceOptions.builder().maxLineLength(1024, LongLines.FAIL).build());
    assertThrows(IOException.class, () -> readAll(bounded, ""));
  }

  @Test
  void invalidUtf8_replacedByDefault_rejectedOnRequest() throws Exception {
    Path file = dir.resolve("bad.log");
    Files.write(file, new byte[] {'o', 'k', '\n', 'a', (byte) 0xC3, '(', '\n'});
    var replacing = Collecting.lineFileSource(file, LineSourceOptions.builder().build());
    assertEquals(List.of("ok", "a\uFFFD("), lines(readAll(replacing, "")));
    var rejecting =
        Collecting.lineFileSource(
            file, LineSourceOptions.builder().malformedInput(MalformedInput.REJECT).build());
    var e = assertThrows(IOException.class, () -> readAll(rejecting, ""));
    assertTrue(e.getMessage().contains("byte offset 3"), e.getMessage());
  }

  @Test
  void open_fileTruncatedBelowCheckpoint_isReported() throws Exception {
    Path file = write("line one\nline two\nline three\n");
    var source = Collecting.lineFileSource(file, LineSourceOptions.builder().maxLines(2).build());
    String token = readAll(source, "").get(0).resumeToken(); // after "line two"
    try (var channel = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(5);
    }
    var e = assertThrows(IOException.class, () -> source.open(token));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void open_fileReplacedSinceCheckpoint_isReported() throws Exception {
    Path file = write("line one\nline two\n");
    var source = Collecting.lineFileSource(file, LineSourceOptions.builder().maxLines(1).build());
    String token = readAll(source, "").get(0).resumeToken();
    Path other = dir.resolve("rotated.log");
    Files.writeString(other, "line one\nline two\nline three\n");
    Files.move(other, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    var e = assertThrows(IOException.class, () -> source.open(token));
    assertTrue(e.getMessage().contains("replaced"), e.getMessage());
  }

  @Test
  void follow_holdsPartialLineUntilComplete_thenDelivers_andInterruptCancels() throws Exception {
    Path file = write("first\n");
    var source =
        Collecting.lineFileSource(
            file, LineSourceOptions.builder().follow(Duration.ofMillis(5)).build());
    try (SourceReader<String> reader = source.open("")) {
      SourceBatch<String> first = reader.next();
      assertNotNull(first);
      assertEquals(List.of("first"), first.records());
      Files.writeString(file, "sec", StandardOpenOption.APPEND);
      var next = new CompletableFuture<SourceBatch<String>>();
      Thread t =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      next.complete(reader.next());
                    } catch (Throwable e) {
                      next.completeExceptionally(e);
                    }
                  });
      // the partial line is not delivered while it lacks its end
      org.awaitility.Awaitility.await().until(() -> t.getState() == Thread.State.TIMED_WAITING);
      assertTrue(!next.isDone());
      Files.writeString(file, "ond\n", StandardOpenOption.APPEND);
      assertEquals(List.of("second"), next.get(10, TimeUnit.SECONDS).records());

      var blocked = new CompletableFuture<SourceBatch<String>>();
      Thread waiter =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      blocked.complete(reader.next());
                    } catch (Throwable e) {
                      blocked.completeExceptionally(e);
                    }
                  });
      org.awaitility.Awaitility.await()
          .until(() -> waiter.getState() == Thread.State.TIMED_WAITING);
      waiter.interrupt();
      var cancelled =
          assertThrows(ExecutionException.class, () -> blocked.get(10, TimeUnit.SECONDS));
      assertInstanceOf(InterruptedException.class, cancelled.getCause());
    }
  }

  @Test
  void collector_overLineFileWithFileStore_resumesWhereItCommitted() throws Exception {
    StringBuilder content = new StringBuilder();
    for (int i = 0; i < 1000; i++) {
      content.append("record ").append(i).append('\n');
    }
    Path file = write(content.toString());
    Path checkpoint = dir.resolve("app.checkpoint");
    var source = Collecting.lineFileSource(file, LineSourceOptions.builder().maxLines(7).build());
    var seen = new ConcurrentLinkedQueue<String>();
    try (CheckpointStore store = Collecting.fileStore(checkpoint, file.toString())) {
      Collector<String> first = Collecting.open(source, store, CollectorOptions.defaults());
      first.process(
          8,
          batch -> {
            if (batch.sequence() >= 50) {
              first.stop();
            }
            seen.addAll(batch.records());
          });
    }
    try (CheckpointStore store = Collecting.fileStore(checkpoint, file.toString())) {
      long resumedAt = store.load().sequence();
      Collector<String> second = Collecting.open(source, store, CollectorOptions.defaults());
      ProcessSummary rest = second.process(8, batch -> seen.addAll(batch.records()));
      assertTrue(resumedAt >= 50, "first run committed " + resumedAt);
      assertEquals(143 - resumedAt, rest.batches()); // 1000 lines in batches of 7
    }
    assertEquals(1000, seen.stream().distinct().count(), "every line handled");
  }

  private static BatchSource<String> source(Path file, LineSourceOptions.Builder options) {
    return Collecting.lineFileSource(file, options.build());
  }

  private static long offsetOf(String token) {
    int at = token.lastIndexOf('@');
    int hash = token.indexOf('#', at);
    return Long.parseLong(token.substring(at + 1, hash < 0 ? token.length() : hash));
  }

  /** Case 7: the limit is on the content; CR LF ends a line like LF; SPLIT keeps every byte. */
  @Test
  void maxLineLength_excludesTheLineEnd_andSplitNeverLosesOrInventsBytes() throws Exception {
    Path crlf = write("12345678\r\nnext\r\n");
    assertEquals(
        List.of("12345678", "next"),
        lines(
            readAll(
                source(crlf, LineSourceOptions.builder().maxLineLength(8, LongLines.FAIL)), "")));
    assertEquals(
        List.of("12345678", "next"),
        lines(
            readAll(
                source(crlf, LineSourceOptions.builder().maxLineLength(8, LongLines.SPLIT)), "")));

    Path cr = write("abc\rdef\n");
    assertEquals(
        List.of("abc\r", "def"),
        lines(
            readAll(
                source(cr, LineSourceOptions.builder().maxLineLength(4, LongLines.SPLIT)), "")));

    Path lastCr = write("abcd\r");
    assertEquals(
        List.of("abcd", "\r"),
        lines(
            readAll(
                source(lastCr, LineSourceOptions.builder().maxLineLength(4, LongLines.SPLIT)),
                "")));
    assertEquals(
        List.of("abcd\r"),
        lines(
            readAll(
                source(lastCr, LineSourceOptions.builder().maxLineLength(5, LongLines.FAIL)), "")));
    var tooLong =
        assertThrows(
            IOException.class,
            () ->
                readAll(
                    source(lastCr, LineSourceOptions.builder().maxLineLength(4, LongLines.FAIL)),
                    ""));
    assertTrue(tooLong.getMessage().contains(lastCr.toString()), tooLong.getMessage());

    Path loneCr = write("ab\rcd\r\n\r\r\n");
    assertEquals(
        List.of("ab\rcd", "\r"), lines(readAll(source(loneCr, LineSourceOptions.builder()), "")));
  }

  /** Case 8: maxBytes bounds a batch (line ends included); a larger line is alone. */
  @Test
  void maxBytes_isAnUpperBound_aLargerLineIsABatchOfItsOwn() throws Exception {
    Path file = write("aaa\nbbb\ncccccccccccc\nd\nee\n");
    List<SourceBatch<String>> batches =
        readAll(source(file, LineSourceOptions.builder().maxBytes(8)), "");
    assertEquals(
        List.of(List.of("aaa", "bbb"), List.of("cccccccccccc"), List.of("d", "ee")),
        batches.stream().map(SourceBatch::records).toList());
    long start = 0;
    for (SourceBatch<String> b : batches) {
      long end = offsetOf(b.resumeToken());
      assertTrue(end - start <= 8 || b.records().size() == 1, b + " spans " + (end - start));
      start = end;
    }
    Path overshoot = write("aaaa\nbbbb\n");
    assertEquals(
        List.of(List.of("aaaa"), List.of("bbbb")),
        readAll(source(overshoot, LineSourceOptions.builder().maxBytes(8)), "").stream()
            .map(SourceBatch::records)
            .toList());
  }

  /** Messages say what was delivered, not what was buffered. */
  @Test
  void follow_truncatedUnderTheReader_messageNamesTheDeliveredPosition() throws Exception {
    Path file = write("line one\npartial");
    var source = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(5)));
    try (SourceReader<String> reader = source.open("")) {
      assertEquals(List.of("line one"), reader.next().records());
      try (var channel = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
        channel.truncate(4);
      }
      var e = assertThrows(IOException.class, reader::next);
      assertTrue(
          e.getMessage().contains(file.toString())
              && e.getMessage().contains("delivered up to byte 9")
              && !e.getMessage().contains("byte 16"),
          e.getMessage());
    }
  }

  /** Rotation: a checkpoint in the rotated file resumes there, then continues in the new one. */
  @Test
  void open_checkpointInARotatedFile_readsItsRestThenTheNewFile() throws Exception {
    Path file = write("old 1\nold 2\nold 3\n");
    var source = source(file, LineSourceOptions.builder().maxLines(1));
    String token = readAll(source, "").get(0).resumeToken(); // after "old 1"
    Files.move(file, dir.resolve("app.log.1"));
    Files.writeString(file, "new 1\nnew 2\n");
    assertEquals(List.of("old 2", "old 3", "new 1", "new 2"), lines(readAll(source, token)));
  }

  /** A token of the previous format (no record count) still resumes, and numbers records. */
  @Test
  void open_tokenWithoutRecordCount_resumesAndCountsTheRecordsBefore() throws Exception {
    Path file = write("a\nb\r\nc\nd\n");
    var source = source(file, LineSourceOptions.builder().maxLines(1));
    String old = LineFileSource.identityOf(file) + "@5";
    List<SourceBatch<String>> rest = readAll(source, old);
    assertEquals(List.of("c", "d"), lines(rest));
    assertEquals(3, Collecting.lineFileRecordCount(rest.get(0).resumeToken()));
    var e =
        assertThrows(IOException.class, () -> source.open(LineFileSource.identityOf(file) + "@4"));
    assertTrue(
        e.getMessage().contains("byte 4") && e.getMessage().contains(file.toString()),
        e.getMessage());
  }

  /** Case 9 in one JVM: a replay may cut batches elsewhere; record numbers stay the same. */
  @Test
  void follow_replayAfterGrowth_cutsOtherBatches_butNumbersEveryRecordAlike() throws Exception {
    Path file = write("r0\nr1\n");
    var source = source(file, LineSourceOptions.builder().maxLines(3).follow(Duration.ofMillis(1)));
    String checkpoint;
    SourceBatch<String> cutAtTheEnd;
    try (SourceReader<String> reader = source.open("")) {
      checkpoint = reader.next().resumeToken(); // r0 r1: the file ended there
      Files.writeString(file, "r2\n", StandardOpenOption.APPEND);
      cutAtTheEnd = reader.next(); // r2 alone
    }
    Files.writeString(file, "r3\nr4\n", StandardOpenOption.APPEND);
    SourceBatch<String> replayed;
    try (SourceReader<String> reader = source.open(checkpoint)) {
      replayed = reader.next(); // r2 r3 r4: other boundaries than before
    }
    assertEquals(List.of("r2"), cutAtTheEnd.records());
    assertEquals(List.of("r2", "r3", "r4"), replayed.records());
    for (SourceBatch<String> b : List.of(cutAtTheEnd, replayed)) {
      long first = Collecting.lineFileRecordCount(b.resumeToken()) - b.records().size();
      for (int i = 0; i < b.records().size(); i++) {
        assertEquals("r" + (first + i), b.records().get(i), b.toString());
      }
    }
  }

  /** Rotation with a reader: the old file's unterminated last line, then the new file. */
  @Test
  void follow_rotation_deliversTheOldFilesLastLine_thenContinuesInTheNewFile() throws Exception {
    Path file = write("a\nb");
    String oldIdentity = LineFileSource.identityOf(file);
    var source = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = source.open("")) {
      assertEquals(List.of("a"), reader.next().records());
      Files.move(file, dir.resolve("app.log.1"));
      Files.writeString(file, "c\n");
      SourceBatch<String> last = reader.next();
      assertEquals(List.of("b"), last.records());
      // the old file's last line had no line end: its token says so ("u"), then a fingerprint
      assertTrue(last.resumeToken().startsWith(oldIdentity + "@3#2/u"), last.resumeToken());
      SourceBatch<String> next = reader.next();
      assertEquals(List.of("c"), next.records());
      assertTrue(
          next.resumeToken().startsWith(LineFileSource.identityOf(file) + "@2#1/l"),
          next.resumeToken());
    }
  }
}
