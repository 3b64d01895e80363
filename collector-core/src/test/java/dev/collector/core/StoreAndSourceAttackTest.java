package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.core.LineSourceOptions.LongLines;
import dev.collector.core.LineSourceOptions.MalformedInput;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-user attacks on the durable file checkpoint store and the line-file source, through their
 * public API only ({@code Collecting.fileStore}, {@code Collecting.lineFileSource}, {@code
 * Collecting.lineFileRecordCount}). A test that exposes a defect is disabled with the defect in one
 * line.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class StoreAndSourceAttackTest {

  @TempDir Path dir;

  // ---------------------------------------------------------------- helpers

  private static List<SourceBatch<String>> readAll(BatchSource<String> source, String token)
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

  private static long offsetOf(String token) {
    int at = token.lastIndexOf('@');
    int hash = token.indexOf('#', at);
    return Long.parseLong(token.substring(at + 1, hash < 0 ? token.length() : hash));
  }

  private static String identityOf(String token) {
    return token.substring(0, token.lastIndexOf('@'));
  }

  private static BatchSource<String> source(Path file, LineSourceOptions.Builder options) {
    return Collecting.lineFileSource(file, options.build());
  }

  private static void assertNames(Throwable e, String... parts) {
    for (String part : parts) {
      assertTrue(
          String.valueOf(e.getMessage()).contains(part),
          "message should name '" + part + "': " + e);
    }
  }

  /** Reference splitter: lines end at LF or CRLF; a lone CR is content. */
  private static List<String> referenceLines(byte[] content) {
    List<String> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < content.length; i++) {
      if (content[i] == '\n') {
        int end = i > start && content[i - 1] == '\r' ? i - 1 : i;
        out.add(new String(content, start, end - start, StandardCharsets.UTF_8));
        start = i + 1;
      }
    }
    if (start < content.length) {
      out.add(new String(content, start, content.length - start, StandardCharsets.UTF_8));
    }
    return out;
  }

  // ================================================================ store

  @Test
  void store_oddTokens_roundTrip() throws Exception {
    Path file = dir.resolve("cp");
    List<String> tokens =
        List.of(
            "",
            "\u0000",
            "a\nb\r\nc\r",
            "\u0000\u0000\n\u0000",
            "\uD83D\uDE00 emoji",
            "\uFEFFbom",
            "x".repeat(1 << 20),
            "@#@#",
            "\u2028\u2029");
    long seq = 0;
    for (String token : tokens) {
      seq++;
      try (CheckpointStore store = Collecting.fileStore(file, "id")) {
        store.commit(new Checkpoint(seq, token));
        assertEquals(new Checkpoint(seq, token), store.load());
      }
      try (CheckpointStore store = Collecting.fileStore(file, "id")) {
        assertEquals(new Checkpoint(seq, token), store.load(), "token #" + seq);
      }
    }
  }

  @Test
  void store_sequenceLongMaxValue_roundTrips() throws Exception {
    Path file = dir.resolve("cp");
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      store.commit(new Checkpoint(Long.MAX_VALUE, "end"));
    }
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      assertEquals(new Checkpoint(Long.MAX_VALUE, "end"), store.load());
    }
  }

  @Test
  void store_oddIdentities_roundTripAndForeignIsRefused() throws Exception {
    List<String> ids =
        List.of(
            "",
            "a\nb",
            "\u0000",
            "\uD83D\uDE00",
            "x".repeat(100_000),
            "id with spaces and = : @ #");
    int i = 0;
    for (String id : ids) {
      Path file = dir.resolve("cp" + i++);
      try (CheckpointStore store = Collecting.fileStore(file, id)) {
        store.commit(new Checkpoint(1, "t"));
      }
      try (CheckpointStore store = Collecting.fileStore(file, id)) {
        assertEquals(new Checkpoint(1, "t"), store.load(), "identity " + i);
      }
      try (CheckpointStore store = Collecting.fileStore(file, id + "x")) {
        var e = assertThrows(IOException.class, store::load, "identity " + i);
        assertNames(e, file.toString());
      }
    }
  }

  /**
   * The largest token commit accepts (the file limit is 16 MiB; the token is stored encoded, so
   * about 12 MiB of ASCII) loads again; one byte more is refused naming the file, nothing written.
   */
  @Test
  void store_tokenAtTheSizeLimit_commitAndLoadAgree() throws Exception {
    Path file = dir.resolve("cp");
    int limit = 16 << 20;
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      store.commit(new Checkpoint(1, "small"));
      // find the largest ASCII token commit accepts, by bisection over the token length
      int lo = limit / 4 * 3 - 4096;
      int hi = limit / 4 * 3 + 16;
      long seq = 1;
      while (lo < hi) {
        int mid = (lo + hi + 1) >>> 1;
        try {
          store.commit(new Checkpoint(++seq, "y".repeat(mid)));
          lo = mid;
        } catch (IOException refused) {
          assertNames(refused, file.toString());
          hi = mid - 1;
        }
      }
      assertTrue(lo > limit / 4 * 3 - 4096 && lo < hi + 16, "largest accepted: " + lo);
      Checkpoint before = store.load();
      int refused = lo + 1;
      assertThrows(
          IOException.class, () -> store.commit(new Checkpoint(1L << 40, "y".repeat(refused))));
      assertEquals(before, store.load());
      // the last accepted must load, in this store and a new one
      store.commit(new Checkpoint(++seq, "y".repeat(lo)));
      assertEquals(lo, store.load().resumeToken().length());
    }
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      assertTrue(store.load().resumeToken().length() > limit / 4 * 3 - 4096);
    }
  }

  /** Multi-byte tokens: the limit is on encoded bytes, not chars. */
  @Test
  void store_multiByteTokenNearTheLimit_refusedAtCommitOrLoads() throws Exception {
    Path file = dir.resolve("cp");
    String big = "\uD83D\uDE00".repeat((16 << 20) / 4 - 10); // ~16 MiB of 4-byte chars
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      store.commit(new Checkpoint(1, "small"));
      try {
        store.commit(new Checkpoint(2, big));
      } catch (IOException refused) {
        assertEquals(new Checkpoint(1, "small"), store.load());
        return;
      }
    }
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      assertEquals(2, store.load().sequence());
    }
  }

  @Test
  void store_nonIncreasingSequence_isRefusedAndNothingMoves() throws Exception {
    Path file = dir.resolve("cp");
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      store.commit(new Checkpoint(5, "five"));
      assertThrows(Exception.class, () -> store.commit(new Checkpoint(5, "five again")));
      assertThrows(Exception.class, () -> store.commit(new Checkpoint(3, "three")));
      assertEquals(new Checkpoint(5, "five"), store.load());
    }
  }

  /** No promise on load after close: it either throws or answers the committed checkpoint. */
  @Test
  void store_loadAfterClose_answersOrThrows_closeTwiceIsHarmless() throws Exception {
    Path file = dir.resolve("cp");
    CheckpointStore store = Collecting.fileStore(file, "id");
    store.commit(new Checkpoint(1, "a"));
    store.close();
    store.close();
    try {
      assertEquals(new Checkpoint(1, "a"), store.load());
    } catch (IOException closed) {
      assertNames(closed, file.toString());
    }
    assertThrows(IOException.class, () -> store.commit(new Checkpoint(2, "b")));
    // the lock is free again
    try (CheckpointStore again = Collecting.fileStore(file, "id")) {
      assertEquals(new Checkpoint(1, "a"), again.load());
    }
  }

  @Test
  void store_nullCheckpoint_isRefused() throws Exception {
    try (CheckpointStore store = Collecting.fileStore(dir.resolve("cp"), "id")) {
      assertThrows(NullPointerException.class, () -> store.commit(null));
    }
  }

  /** Aliases that name the same file: `..`, a relative path, a symlinked directory. */
  @Test
  void store_secondStoreThroughPathAliases_failsOnTheLock() throws Exception {
    Path real = dir.resolve("sub").resolve("cp");
    Files.createDirectories(real.getParent());
    Path dotdot = dir.resolve("sub").resolve("..").resolve("sub").resolve("cp");
    Path dirLink = Files.createSymbolicLink(dir.resolve("sublink"), dir.resolve("sub"));
    Path viaDirLink = dirLink.resolve("cp");
    Path relative = Path.of("").toAbsolutePath().relativize(real);
    try (CheckpointStore store = Collecting.fileStore(real, "id")) {
      store.commit(new Checkpoint(1, "one"));
      for (Path alias : List.of(dotdot, viaDirLink, relative)) {
        assertThrows(
            IOException.class,
            () -> Collecting.fileStore(alias, "id").close(),
            "second store through " + alias);
      }
    }
  }

  /** A symlink created before the checkpoint file exists (fresh start) still names it. */
  @Test
  void store_danglingSymlinkToTheFutureFile_failsOnTheLock() throws Exception {
    Path real = dir.resolve("cp");
    Path alias = Files.createSymbolicLink(dir.resolve("alias"), real);
    try (CheckpointStore store = Collecting.fileStore(real, "id")) {
      assertNull(store.load());
      IOException e = null;
      try (CheckpointStore second = Collecting.fileStore(alias, "id")) {
        second.commit(new Checkpoint(7, "through the alias"));
      } catch (IOException expected) {
        e = expected;
      }
      assertNotNull(e, "a second store through a dangling symlink was opened and committed");
    }
  }

  /** A hard link is another name for the same file: "under any name". */
  @Test
  void store_secondStoreThroughAHardLink_failsOnTheLock() throws Exception {
    Path real = dir.resolve("cp");
    try (CheckpointStore store = Collecting.fileStore(real, "id")) {
      store.commit(new Checkpoint(1, "one"));
      Path hard = Files.createLink(dir.resolve("hard"), real);
      IOException e = null;
      try (CheckpointStore second = Collecting.fileStore(hard, "id")) {
        assertEquals(new Checkpoint(1, "one"), second.load());
      } catch (IOException expected) {
        e = expected;
      }
      assertNotNull(e, "a second store on the same file through a hard link was opened");
    }
  }

  /** The lock file removed by a cleanup job while held: a second store must still be refused. */
  @Test
  void store_lockFileDeletedWhileHeld_secondStoreStillRefused() throws Exception {
    Path file = dir.resolve("cp");
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      store.commit(new Checkpoint(1, "one"));
      Files.delete(dir.resolve("cp.lock"));
      IOException e = null;
      try (CheckpointStore second = Collecting.fileStore(file, "id")) {
        second.commit(new Checkpoint(2, "two, from a second writer"));
      } catch (IOException expected) {
        e = expected;
      }
      assertNotNull(e, "after the lock file was deleted a second store opened and committed");
    }
  }

  @Test
  void store_fifoInPlaceOfTheFile_loadFailsNamingThePath_doesNotBlock() throws Exception {
    Path file = dir.resolve("cp");
    Process mkfifo = new ProcessBuilder("mkfifo", file.toString()).start();
    assertEquals(0, mkfifo.waitFor());
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      var result =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return store.load();
                } catch (IOException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      try {
        result.get(5, TimeUnit.SECONDS);
        fail("load returned on a FIFO");
      } catch (java.util.concurrent.ExecutionException e) {
        assertNames(e.getCause(), file.toString());
      } catch (java.util.concurrent.TimeoutException e) {
        // unblock the reader
        try (var w = Files.newOutputStream(file)) {
          w.write(1);
        }
        fail("load() blocked on a FIFO at the checkpoint path");
      }
    }
  }

  @Test
  void store_symlinkLoopAtThePath_failsNamingThePath() throws Exception {
    Path file = dir.resolve("cp");
    Files.createSymbolicLink(file, dir.resolve("cp2"));
    Files.createSymbolicLink(dir.resolve("cp2"), file);
    IOException e =
        assertThrows(
            IOException.class,
            () -> {
              try (CheckpointStore store = Collecting.fileStore(file, "id")) {
                store.load();
              }
            });
    assertNames(e, "cp");
  }

  /**
   * The SPI says one commit at a time; a user who breaks that must at worst get an exception, never
   * a torn or lost file: after the storm the file loads one of the committed checkpoints.
   */
  @Test
  void store_concurrentCommitsFromTwoThreads_neverTearTheFile() throws Exception {
    Path file = dir.resolve("cp");
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      var start = new CountDownLatch(1);
      List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
      Thread[] threads = new Thread[2];
      for (int t = 0; t < 2; t++) {
        int offset = t;
        threads[t] =
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        start.await();
                        for (int i = 0; i < 300; i++) {
                          long seq = 2L * i + offset + 1;
                          store.commit(new Checkpoint(seq, ("t" + offset + "-").repeat(200) + seq));
                        }
                      } catch (Throwable e) {
                        errors.add(e);
                      }
                    });
      }
      start.countDown();
      for (Thread t : threads) {
        t.join();
      }
      for (Throwable e : errors) {
        assertTrue(
            e instanceof IOException
                || e instanceof dev.collector.MisuseException
                || e instanceof IllegalStateException,
            "unexpected " + e);
      }
      Checkpoint last = store.load();
      assertNotNull(last);
      assertTrue(last.resumeToken().endsWith(String.valueOf(last.sequence())), last.toString());
    }
    try (CheckpointStore store = Collecting.fileStore(file, "id")) {
      Checkpoint last = store.load();
      assertTrue(last.resumeToken().endsWith(String.valueOf(last.sequence())));
    }
    try (var files = Files.list(dir)) {
      List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
      assertEquals(List.of("cp", "cp.lock"), names, "leftover files");
    }
  }

  // ================================================================ source: options

  @Test
  void options_zeroAndNegative_refusedNamingTheParameter() {
    for (int bad : new int[] {0, -1, Integer.MIN_VALUE}) {
      assertNames(
          assertThrows(
              IllegalArgumentException.class,
              () -> LineSourceOptions.builder().maxLines(bad).build()),
          "maxLines",
          "" + bad);
      assertNames(
          assertThrows(
              IllegalArgumentException.class,
              () -> LineSourceOptions.builder().maxBytes(bad).build()),
          "maxBytes",
          "" + bad);
      assertNames(
          assertThrows(
              IllegalArgumentException.class,
              () -> LineSourceOptions.builder().maxLineLength(bad, LongLines.SPLIT).build()),
          "maxLineLength",
          "" + bad);
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> LineSourceOptions.builder().follow(Duration.ZERO).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> LineSourceOptions.builder().follow(Duration.ofMillis(-1)).build());
  }

  /** Huge limits must not allocate huge buffers for a tiny file. */
  @Test
  void options_hugeLimits_smallFile_noHugeAllocation() throws Exception {
    Path file = dir.resolve("a.log");
    Files.writeString(file, "a\nb\n");
    var source =
        source(
            file,
            LineSourceOptions.builder()
                .maxLines(Integer.MAX_VALUE)
                .maxBytes(Integer.MAX_VALUE)
                .maxLineLength(Integer.MAX_VALUE, LongLines.SPLIT));
    assertEquals(List.of("a", "b"), lines(readAll(source, "")));
  }

  @Test
  void options_maxBytesOneAndMaxLinesOne_everyLineItsOwnBatch() throws Exception {
    Path file = dir.resolve("a.log");
    Files.writeString(file, "a\n\nbb\r\nc");
    for (var b :
        List.of(LineSourceOptions.builder().maxBytes(1), LineSourceOptions.builder().maxLines(1))) {
      List<SourceBatch<String>> batches = readAll(source(file, b), "");
      assertEquals(
          List.of(List.of("a"), List.of(""), List.of("bb"), List.of("c")),
          batches.stream().map(SourceBatch::records).toList());
      assertEquals(
          List.of(2L, 3L, 7L, 8L), batches.stream().map(x -> offsetOf(x.resumeToken())).toList());
    }
  }

  // ================================================================ source: content

  @Test
  void source_emptyFile_finiteEndsAtOnce() throws Exception {
    Path file = dir.resolve("empty.log");
    Files.createFile(file);
    assertEquals(List.of(), readAll(source(file, LineSourceOptions.builder()), ""));
  }

  @Test
  void source_missingFile_errorNamesThePath() {
    Path file = dir.resolve("missing.log");
    var e =
        assertThrows(Exception.class, () -> readAll(source(file, LineSourceOptions.builder()), ""));
    assertNames(e, file.toString());
  }

  /**
   * CR, LF, CRLF and 4-byte UTF-8 characters at every position around common buffer sizes: the
   * lines equal a reference split, and resuming at each token yields exactly the rest.
   */
  @Test
  void source_lineEndsAndMultiByteCharsAcrossBufferBoundaries() throws Exception {
    byte[] emoji = "\uD83D\uDE00".getBytes(StandardCharsets.UTF_8);
    for (int boundary : new int[] {4096, 8192, 16384, 65536}) {
      for (int shift = -4; shift <= 4; shift++) {
        for (String end : List.of("\n", "\r\n", "\r", "\r\r\n")) {
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          int lineStart = boundary + shift - 1 - (end.length() - 1);
          byte[] first = "a".repeat(Math.max(0, lineStart)).getBytes(StandardCharsets.UTF_8);
          out.writeBytes(first);
          out.writeBytes(end.getBytes(StandardCharsets.UTF_8));
          // a 4-byte char straddling the boundary + a few bytes
          int pad = Math.floorMod(boundary - out.size() - 2, 64);
          out.writeBytes("b".repeat(pad).getBytes(StandardCharsets.UTF_8));
          out.writeBytes(emoji);
          out.writeBytes("c\n".getBytes(StandardCharsets.UTF_8));
          out.writeBytes("tail".getBytes(StandardCharsets.UTF_8));
          byte[] content = out.toByteArray();
          Path file = dir.resolve("b.log");
          Files.write(file, content);
          List<String> expected = referenceLines(content);
          for (var mode : MalformedInput.values()) {
            var src = source(file, LineSourceOptions.builder().maxLines(1).malformedInput(mode));
            List<SourceBatch<String>> batches = readAll(src, "");
            String what =
                "boundary "
                    + boundary
                    + " shift "
                    + shift
                    + " end "
                    + end.replace("\r", "CR").replace("\n", "LF")
                    + " "
                    + mode;
            assertEquals(expected, lines(batches), what);
            assertEquals(content.length, offsetOf(batches.getLast().resumeToken()), what);
            for (int i = 0; i < batches.size(); i++) {
              assertEquals(
                  expected.subList(i + 1, expected.size()),
                  lines(readAll(src, batches.get(i).resumeToken())),
                  what + " resume " + i);
            }
          }
        }
      }
    }
  }

  /** Random content with limits: in SPLIT mode the pieces plus line ends rebuild the file. */
  @Test
  void source_split_randomContent_concatenationEqualsTheFile() throws Exception {
    Random random = new Random(15);
    for (int round = 0; round < 200; round++) {
      int len = random.nextInt(300);
      byte[] content = new byte[len];
      String alphabet = "ab\r\n";
      for (int i = 0; i < len; i++) {
        content[i] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
      }
      int max = 1 + random.nextInt(6);
      int maxBytes = 1 + random.nextInt(20);
      int maxLines = 1 + random.nextInt(5);
      Path file = dir.resolve("r.log");
      Files.write(file, content);
      var src =
          source(
              file,
              LineSourceOptions.builder()
                  .maxLines(maxLines)
                  .maxBytes(maxBytes)
                  .maxLineLength(max, LongLines.SPLIT));
      List<SourceBatch<String>> batches = readAll(src, "");
      String what =
          "round "
              + round
              + " max "
              + max
              + " maxBytes "
              + maxBytes
              + " content "
              + new String(content, StandardCharsets.US_ASCII)
                  .replace("\r", "R")
                  .replace("\n", "N");
      // bytes between consecutive tokens = the batch's records with their line ends
      long prev = 0;
      long count = 0;
      for (SourceBatch<String> b : batches) {
        long end = offsetOf(b.resumeToken());
        assertTrue(end > prev, what);
        String slice =
            new String(content, (int) prev, (int) (end - prev), StandardCharsets.US_ASCII);
        String joined = String.join("", b.records());
        assertEquals(
            slice.replace("\r\n", "").replace("\n", ""),
            joined.replace("\r\n", "").replace("\n", ""),
            what + " batch " + b);
        for (String r : b.records()) {
          assertTrue(r.length() <= max, what + " piece too long " + r);
        }
        assertTrue(end - prev <= maxBytes || b.records().size() == 1, what + " maxBytes " + b);
        assertTrue(b.records().size() <= maxLines, what);
        count += b.records().size();
        assertEquals(count, Collecting.lineFileRecordCount(b.resumeToken()), what);
        prev = end;
      }
      assertEquals(len, prev, what);
      // resume at every token = the rest
      List<String> all = lines(batches);
      int consumed = 0;
      for (SourceBatch<String> b : batches) {
        consumed += b.records().size();
        assertEquals(
            all.subList(consumed, all.size()),
            lines(readAll(src, b.resumeToken())),
            what + " resume at " + b.resumeToken());
      }
    }
  }

  @Test
  void source_lineExactlyAtMaxLineLength_acceptedOneMoreFailsNamingOffsetAndFile()
      throws Exception {
    Path file = dir.resolve("l.log");
    Files.writeString(file, "ok\n" + "x".repeat(16) + "\r\n" + "y".repeat(17) + "\n");
    var src =
        source(file, LineSourceOptions.builder().maxLines(1).maxLineLength(16, LongLines.FAIL));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("ok"), reader.next().records());
      assertEquals(List.of("x".repeat(16)), reader.next().records());
      var e = assertThrows(IOException.class, reader::next);
      assertNames(e, file.toString(), "21");
    }
  }

  /** SPLIT cutting a 4-byte char: REPLACE gives U+FFFD, no byte lost in the offsets. */
  @Test
  void source_splitCutsAMultiByteChar_offsetsStillCoverEveryByte() throws Exception {
    Path file = dir.resolve("m.log");
    byte[] content = "\uD83D\uDE00\uD83D\uDE00\n".getBytes(StandardCharsets.UTF_8); // 8 + LF
    Files.write(file, content);
    var src =
        source(file, LineSourceOptions.builder().maxLines(1).maxLineLength(3, LongLines.SPLIT));
    List<SourceBatch<String>> batches = readAll(src, "");
    assertEquals(content.length, offsetOf(batches.getLast().resumeToken()));
    assertEquals(3, batches.size(), batches.toString()); // 3 + 3 + 2 bytes
    var rejecting =
        source(
            file,
            LineSourceOptions.builder()
                .maxLineLength(3, LongLines.SPLIT)
                .malformedInput(MalformedInput.REJECT));
    var e = assertThrows(IOException.class, () -> readAll(rejecting, ""));
    assertNames(e, file.toString());
  }

  @Test
  void source_invalidUtf8Reject_namesFileAndLineOffset() throws Exception {
    Path file = dir.resolve("u.log");
    Files.write(file, new byte[] {'a', '\n', 'b', 'c', '\n', 'd', (byte) 0xFF, '\n'});
    var src =
        source(file, LineSourceOptions.builder().malformedInput(MalformedInput.REJECT).maxLines(1));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("a"), reader.next().records());
      assertEquals(List.of("bc"), reader.next().records());
      var e = assertThrows(IOException.class, reader::next);
      assertNames(e, file.toString(), "5");
    }
    // an encoded surrogate (CESU) and an overlong encoding are malformed too
    Files.write(
        file,
        new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80, '\n', (byte) 0xC0, (byte) 0xAF, '\n'});
    assertThrows(IOException.class, () -> readAll(src, ""));
    var replacing = source(file, LineSourceOptions.builder());
    for (String line : lines(readAll(replacing, ""))) {
      assertTrue(line.chars().allMatch(c -> c == 0xFFFD), line);
    }
  }

  // ================================================================ source: tokens

  @Test
  void recordCount_garbageTokens_throwIllegalArgument() {
    for (String bad :
        new String[] {
          "",
          "abc",
          "@",
          "x@",
          "x@abc",
          "x@-1#0",
          "x@1#-1",
          "x@1#",
          "x@1#abc",
          "x@99999999999999999999#1",
          "#5",
          "x#5",
          "x@1#2#3"
        }) {
      assertThrows(
          IllegalArgumentException.class,
          () -> Collecting.lineFileRecordCount(bad),
          "token '" + bad + "'");
    }
  }

  @Test
  void open_garbageAndForeignTokens_failWithAClearMessage() throws Exception {
    Path file = dir.resolve("t.log");
    Files.writeString(file, "aaa\nbbb\nccc\n");
    var src = source(file, LineSourceOptions.builder().maxLines(1));
    String good = readAll(src, "").get(0).resumeToken(); // after aaa
    String id = identityOf(good);
    for (String bad :
        new String[] {
          "garbage",
          "@4#1",
          id + "@-4#1",
          id + "@abc#1",
          id + "@4#x",
          "someone-else@4#1",
          id + "@400#100",
          id + "@99999999999999999999#1",
          "\u0000@4#1"
        }) {
      Exception e = assertThrows(Exception.class, () -> readAll(src, bad), bad);
      assertTrue(e instanceof IOException || e instanceof IllegalArgumentException, bad + ": " + e);
      assertNames(e, file.toString());
    }
  }

  /**
   * A token of the current format whose offset is not at a line start (inside a line, between the
   * CR and LF of a CRLF) delivers the tail of a line as a record; an old-format token ({@code
   * id@4}) at the same kind of offset is refused naming the byte.
   */
  @Test
  void open_tokenInTheMiddleOfALine_isReported() throws Exception {
    Path file = dir.resolve("c.log");
    Files.writeString(file, "aaa\r\ncd\n");
    var src = source(file, LineSourceOptions.builder().maxLines(1));
    String id = identityOf(readAll(src, "").get(0).resumeToken());
    for (String token : List.of(id + "@2#1", id + "@4#1")) {
      var e = assertThrows(IOException.class, () -> readAll(src, token), token);
      assertNames(e, file.toString(), "byte " + offsetOf(token));
    }
  }

  /** open() and lineFileRecordCount disagree on a negative record count. */
  @Test
  void open_negativeRecordCount_refusedLikeLineFileRecordCount() throws Exception {
    Path file = dir.resolve("n.log");
    Files.writeString(file, "aaa\nbbb\n");
    var src = source(file, LineSourceOptions.builder().maxLines(1));
    String id = identityOf(readAll(src, "").get(0).resumeToken());
    String token = id + "@4#-1";
    assertThrows(IllegalArgumentException.class, () -> Collecting.lineFileRecordCount(token));
    var e = assertThrows(IOException.class, () -> readAll(src, token));
    assertNames(e, file.toString());
  }

  /**
   * Non-follow mode delivers an unterminated last line. If a writer then completes that line,
   * resuming there must not deliver the rest of that line as a record of its own.
   */
  @Test
  void finite_unterminatedLastLineCompletedLater_resumeDoesNotInventARecord() throws Exception {
    Path file = dir.resolve("g.log");
    Files.writeString(file, "one\ntw");
    var src = source(file, LineSourceOptions.builder());
    List<SourceBatch<String>> first = readAll(src, "");
    assertEquals(List.of("one", "tw"), lines(first));
    Files.writeString(file, "o\nthree\n", StandardOpenOption.APPEND);
    String token = first.getLast().resumeToken();
    List<String> rest;
    try {
      rest = lines(readAll(src, token));
    } catch (IOException reported) {
      assertNames(reported, file.toString());
      return;
    }
    assertEquals(List.of("three"), rest, "resumed after the delivered 'tw'");
  }

  /** The same identity, content rewritten (copy-truncate + regrowth) before a restart. */
  @Test
  void open_fileTruncatedAndRegrownPastTheCheckpoint_isReported() throws Exception {
    Path file = dir.resolve("ct.log");
    Files.writeString(file, "old line 1\nold line 2\n");
    var src = source(file, LineSourceOptions.builder().maxLines(1));
    String token = readAll(src, "").get(0).resumeToken(); // offset 11
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(0);
    }
    Files.writeString(file, "new line 1\nnew line 2\nnew line 3\n", StandardOpenOption.APPEND);
    List<String> rest;
    try {
      rest = lines(readAll(src, token));
    } catch (IOException reported) {
      assertNames(reported, file.toString());
      return;
    }
    fail("resumed at byte 11 of a truncated-and-rewritten file, skipping 'new line 1': " + rest);
  }

  // ================================================================ source: follow / rotation

  /** Copy-truncate under a following reader, the file regrown past its position. */
  @Test
  void follow_copyTruncateRegrownPastThePosition_isReportedNotSkipped() throws Exception {
    Path file = dir.resolve("f.log");
    Files.writeString(file, "old line 1\n");
    var src = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("old line 1"), reader.next().records());
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        ch.truncate(0);
      }
      Files.writeString(file, "new line 1\nnew line 2\n", StandardOpenOption.APPEND);
      SourceBatch<String> next;
      try {
        next = reader.next();
      } catch (IOException reported) {
        assertNames(reported, file.toString());
        return;
      }
      fail("copy-truncate not reported; delivered " + next.records());
    }
  }

  @Test
  void follow_copyTruncateBelowThePosition_isReportedNamingTheFile() throws Exception {
    Path file = dir.resolve("f.log");
    Files.writeString(file, "old line 1\nold line 2\n");
    var src = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("old line 1", "old line 2"), reader.next().records());
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        ch.truncate(0);
      }
      Files.writeString(file, "new\n", StandardOpenOption.APPEND);
      var e = assertThrows(IOException.class, reader::next);
      assertNames(e, file.toString());
    }
  }

  /** Two rotations between two reads: the middle file must not vanish silently. */
  @Test
  void follow_twoRotationsBetweenReads_middleFileIsNotLost() throws Exception {
    Path file = dir.resolve("app.log");
    Files.writeString(file, "A1\n");
    var src = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    List<String> got = new ArrayList<>();
    try (SourceReader<String> reader = src.open("")) {
      got.addAll(reader.next().records());
      Files.writeString(file, "A2\n", StandardOpenOption.APPEND);
      Files.move(file, dir.resolve("app.log.1"));
      Files.writeString(file, "B1\nB2\n");
      Files.move(dir.resolve("app.log.1"), dir.resolve("app.log.2"));
      Files.move(file, dir.resolve("app.log.1"));
      Files.writeString(file, "C1\n");
      var reading =
          CompletableFuture.runAsync(
              () -> {
                try {
                  while (!got.contains("C1")) {
                    synchronized (got) {
                      got.addAll(reader.next().records());
                    }
                  }
                } catch (Exception e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      reading.get(10, TimeUnit.SECONDS);
    }
    assertEquals(List.of("A1", "A2", "B1", "B2", "C1"), got);
  }

  /** Collector down during two rotations: the checkpoint is in app.log.2. */
  @Test
  void open_checkpointTwoRotationsBack_middleFileIsNotSkipped() throws Exception {
    Path file = dir.resolve("app.log");
    Files.writeString(file, "A1\nA2\n");
    var src = source(file, LineSourceOptions.builder().maxLines(1));
    String token = readAll(src, "").get(0).resumeToken(); // after A1
    Files.move(file, dir.resolve("app.log.1"));
    Files.writeString(file, "B1\n");
    Files.move(dir.resolve("app.log.1"), dir.resolve("app.log.2"));
    Files.move(file, dir.resolve("app.log.1"));
    Files.writeString(file, "C1\n");
    List<String> rest;
    try {
      rest = lines(readAll(src, token));
    } catch (IOException reported) {
      assertNames(reported, file.toString());
      return;
    }
    assertEquals(List.of("A2", "B1", "C1"), rest);
  }

  /** A rotation where the new file appears late: the old file is finished, then the new one. */
  @Test
  void follow_rotationNewFileAppearsLate_continuesInTheNewFile() throws Exception {
    Path file = dir.resolve("app.log");
    Files.writeString(file, "A1\n");
    var src = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("A1"), reader.next().records());
      Files.writeString(file, "A2", StandardOpenOption.APPEND);
      Files.move(file, dir.resolve("app.log.1"));
      var next =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  List<String> got = new ArrayList<>();
                  while (!got.contains("B1")) {
                    got.addAll(reader.next().records());
                  }
                  return got;
                } catch (Exception e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      // the path stays absent for a while; the reader must keep waiting, not fail
      org.awaitility.Awaitility.await().pollDelay(Duration.ofMillis(200)).until(() -> true);
      assertTrue(!next.isDone() || !next.isCompletedExceptionally(), "failed while absent");
      Files.writeString(file, "B1\n");
      assertEquals(List.of("A2", "B1"), next.get(10, TimeUnit.SECONDS));
    }
  }

  /** Follow through a symlink, and the symlink re-pointed (rotation by link). */
  @Test
  void follow_symlinkRepointed_actsAsRotation() throws Exception {
    Path a = dir.resolve("app-1.log");
    Path b = dir.resolve("app-2.log");
    Files.writeString(a, "A1\n");
    Path link = Files.createSymbolicLink(dir.resolve("current.log"), a);
    var src = source(link, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("A1"), reader.next().records());
      Files.writeString(a, "A2\n", StandardOpenOption.APPEND);
      Files.writeString(b, "B1\n");
      Path tmp = Files.createSymbolicLink(dir.resolve("current.tmp"), b);
      Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      List<String> got = new ArrayList<>();
      var reading =
          CompletableFuture.runAsync(
              () -> {
                try {
                  while (!got.contains("B1")) {
                    got.addAll(reader.next().records());
                  }
                } catch (Exception e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      reading.get(10, TimeUnit.SECONDS);
      assertEquals(List.of("A2", "B1"), got);
    }
  }

  /** The followed file deleted (no new one): the reader keeps waiting; interrupt cancels. */
  @Test
  void follow_fileDeleted_readerWaitsAndInterruptCancels() throws Exception {
    Path file = dir.resolve("d.log");
    Files.writeString(file, "A1\nA2");
    var src = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = src.open("")) {
      assertEquals(List.of("A1"), reader.next().records());
      Files.delete(file);
      var result = new CompletableFuture<List<String>>();
      Thread t =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      List<String> got = new ArrayList<>();
                      for (; ; ) {
                        got.addAll(reader.next().records());
                        result.obtrudeValue(List.copyOf(got));
                      }
                    } catch (Throwable e) {
                      result.obtrudeException(e);
                    }
                  });
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  t.getState() == Thread.State.TIMED_WAITING
                      || t.getState() == Thread.State.TERMINATED);
      t.interrupt();
      t.join(10_000);
      assertTrue(!t.isAlive(), "reader did not stop");
    }
  }

  /** Huge line in SPLIT mode (several MiB): pieces concatenate to the line exactly. */
  @Test
  void source_hugeLineSplit_concatenationEqualsTheLine() throws Exception {
    Path file = dir.resolve("h.log");
    StringBuilder sb = new StringBuilder();
    Random random = new Random(7);
    for (int i = 0; i < 3_000_000; i++) {
      sb.append((char) ('a' + random.nextInt(26)));
    }
    String line = sb.toString();
    Files.writeString(file, "start\n" + line + "\r\nend\r");
    var src = source(file, LineSourceOptions.builder().maxLineLength(65_537, LongLines.SPLIT));
    List<SourceBatch<String>> batches = readAll(src, "");
    List<String> all = lines(batches);
    assertEquals("start", all.getFirst());
    assertEquals("end\r", all.getLast());
    assertEquals(line, String.join("", all.subList(1, all.size() - 1)));
    assertEquals(Files.size(file), offsetOf(batches.getLast().resumeToken()));
  }

  // ================================================================ more

  @Test
  void store_parentIsAFile_orLockIsADirectory_failsNamingThePath() throws Exception {
    Path notADir = Files.writeString(dir.resolve("plain"), "x");
    var e =
        assertThrows(
            IOException.class, () -> Collecting.fileStore(notADir.resolve("cp"), "id").close());
    assertNames(e, notADir.toString());
    Files.createDirectory(dir.resolve("cp2.lock"));
    var e2 =
        assertThrows(
            IOException.class, () -> Collecting.fileStore(dir.resolve("cp2"), "id").close());
    assertNames(e2, "cp2.lock");
  }

  @Test
  void source_directoryInPlaceOfTheFile_failsNamingThePath() {
    var e =
        assertThrows(Exception.class, () -> readAll(source(dir, LineSourceOptions.builder()), ""));
    assertNames(e, dir.toString());
  }

  /** Follow: a CRLF written in two writes (CR, then LF) is one line end, not content. */
  @Test
  void follow_crlfSplitAcrossTwoWrites_isOneLineEnd() throws Exception {
    Path file = dir.resolve("w.log");
    Files.writeString(file, "abc\r");
    var src = source(file, LineSourceOptions.builder().follow(Duration.ofMillis(1)));
    try (SourceReader<String> reader = src.open("")) {
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
      org.awaitility.Awaitility.await().until(() -> t.getState() == Thread.State.TIMED_WAITING);
      assertTrue(!next.isDone(), "delivered before the line end: " + next);
      Files.writeString(file, "\ndef\n", StandardOpenOption.APPEND);
      SourceBatch<String> b = next.get(10, TimeUnit.SECONDS);
      List<String> got = new ArrayList<>(b.records());
      if (got.size() == 1) {
        got.addAll(reader.next().records());
      }
      assertEquals(List.of("abc", "def"), got);
    }
  }

  /**
   * The file deleted and a new one created at the path: if the new file gets the old inode (file
   * systems reuse them at once), the token's identity matches a different file.
   */
  @Test
  void open_newFileReusingTheOldInode_isNotTakenForTheCheckpointsFile() throws Exception {
    Path file = dir.resolve("app.log");
    Files.writeString(file, "old line 1\nold line 2\n");
    var src = source(file, LineSourceOptions.builder().maxLines(1));
    String token = readAll(src, "").get(0).resumeToken();
    Files.delete(file);
    Files.writeString(file, "new line 1\nnew line 2\nnew line 3\n");
    org.junit.jupiter.api.Assumptions.assumeTrue(
        identityOf(readAll(src, "").get(0).resumeToken()).equals(identityOf(token)),
        "this file system did not reuse the inode");
    List<String> rest;
    try {
      rest = lines(readAll(src, token));
    } catch (IOException reported) {
      assertNames(reported, file.toString());
      return;
    }
    fail("resumed at byte 11 of another file with the same inode: " + rest);
  }

  /** A line exactly maxLineLength long, its CRLF at every position around buffer sizes. */
  @Test
  void source_lineExactlyAtTheLimit_crlfAcrossBufferBoundaries() throws Exception {
    for (int boundary : new int[] {4096, 8192, 16384, 65536}) {
      for (int shift = -3; shift <= 3; shift++) {
        int len = boundary + shift;
        String line = "z".repeat(len);
        Path file = dir.resolve("x.log");
        Files.writeString(file, line + "\r\nnext\r\n");
        String what = "length " + len;
        assertEquals(
            List.of(line, "next"),
            lines(
                readAll(
                    source(file, LineSourceOptions.builder().maxLineLength(len, LongLines.FAIL)),
                    "")),
            what);
        assertEquals(
            List.of(line, "next"),
            lines(
                readAll(
                    source(file, LineSourceOptions.builder().maxLineLength(len, LongLines.SPLIT)),
                    "")),
            what);
        List<String> pieces =
            lines(
                readAll(
                    source(
                        file, LineSourceOptions.builder().maxLineLength(len - 1, LongLines.SPLIT)),
                    ""));
        assertEquals(List.of("z".repeat(len - 1), "z", "next"), pieces, what);
      }
    }
  }
}
