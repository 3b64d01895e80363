package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.core.LineSourceOptions.LongLines;
import dev.collector.core.LineSourceOptions.MalformedInput;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Properties of the line-file source against a model written independently of it: the file is cut
 * into lines at {@code \n} and {@code \r\n} first, then each line's content into pieces of {@code
 * maxLineLength} bytes. Contents mix CR, LF, CRLF, invalid UTF-8 and long runs; limits, read-buffer
 * sizes and resume points are random. jqwik prints each property's seed; rerun a failure with
 * {@code @Property(seed = "...")}. 200 tries each, 1000 with {@code CI} set.
 */
class LineFileSourceProperties {

  private static Path dir;

  @BeforeContainer
  static void createDir() throws IOException {
    dir = Files.createTempDirectory("line-file-properties");
  }

  @AfterContainer
  static void deleteDir() throws IOException {
    FileCheckpointStoreProperties.deleteContents(dir);
    Files.delete(dir);
  }

  /** A piece of the model: the bytes of a record and of the line end after it (maybe none). */
  record Piece(byte[] content, byte[] end) {
    String text() {
      return new String(content, StandardCharsets.UTF_8); // U+FFFD for invalid bytes
    }
  }

  static List<Piece> model(byte[] data, int maxLineLength) {
    List<Piece> pieces = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= data.length; i++) {
      boolean lf = i < data.length && data[i] == '\n';
      if (!lf && i < data.length) {
        continue;
      }
      if (!lf && start == data.length) {
        break; // the file ended with a line end, or is empty
      }
      boolean crlf = lf && i > start && data[i - 1] == '\r';
      byte[] content = Arrays.copyOfRange(data, start, crlf ? i - 1 : i);
      byte[] end = lf ? (crlf ? new byte[] {'\r', '\n'} : new byte[] {'\n'}) : new byte[0];
      if (content.length == 0) {
        pieces.add(new Piece(content, end));
      }
      for (int from = 0; from < content.length; from += maxLineLength) {
        int to = Math.min(content.length, from + maxLineLength);
        pieces.add(
            new Piece(
                Arrays.copyOfRange(content, from, to), to == content.length ? end : new byte[0]));
      }
      start = i + 1;
    }
    return pieces;
  }

  @Provide
  Arbitrary<byte[]> contents() {
    Arbitrary<byte[]> token =
        Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(6, Arbitraries.of("a", "b", "z", " ").map(String::getBytes)),
            net.jqwik.api.Tuple.of(3, Arbitraries.just(new byte[] {'\n'})),
            net.jqwik.api.Tuple.of(3, Arbitraries.just(new byte[] {'\r'})),
            net.jqwik.api.Tuple.of(3, Arbitraries.just(new byte[] {'\r', '\n'})),
            net.jqwik.api.Tuple.of(
                2, Arbitraries.just("\u00e9\u20ac".getBytes(StandardCharsets.UTF_8))),
            net.jqwik.api.Tuple.of(
                1,
                Arbitraries.of(
                    new byte[] {(byte) 0xff},
                    new byte[] {(byte) 0xc3},
                    new byte[] {(byte) 0x80, 'x'},
                    new byte[] {(byte) 0xe2, (byte) 0x82})),
            net.jqwik.api.Tuple.of(
                1,
                Arbitraries.integers()
                    .between(10, 60)
                    .map(n -> "x".repeat(n).getBytes(StandardCharsets.UTF_8))));
    return token
        .list()
        .ofMaxSize(60)
        .map(
            parts -> {
              var out = new ByteArrayOutputStream();
              parts.forEach(out::writeBytes);
              return out.toByteArray();
            });
  }

  private static Path write(byte[] data) throws IOException {
    Path file = Files.createTempFile(dir, "lines", ".log");
    Files.write(file, data);
    return file;
  }

  private static long offsetOf(String token) {
    int at = token.lastIndexOf('@');
    return Long.parseLong(token.substring(at + 1, token.indexOf('#', at)));
  }

  @Property
  void finite_recordsAreTheModel_batchesRespectLimits_resumingAnywhereYieldsTheRest(
      @ForAll("contents") byte[] data,
      @ForAll @IntRange(min = 1, max = 12) int maxLineLength,
      @ForAll @IntRange(min = 1, max = 5) int maxLines,
      @ForAll @IntRange(min = 1, max = 40) int maxBytes,
      @ForAll @IntRange(min = 1, max = 9) int bufferSize)
      throws Exception {
    Path file = write(data);
    List<Piece> model = model(data, maxLineLength);
    var out = new ByteArrayOutputStream();
    model.forEach(
        p -> {
          out.writeBytes(p.content());
          out.writeBytes(p.end());
        });
    assertEquals(
        Arrays.toString(data),
        Arrays.toString(out.toByteArray()),
        "the model's pieces and line ends are the file");
    var source =
        new LineFileSource(
            file,
            LineSourceOptions.builder()
                .maxLines(maxLines)
                .maxBytes(maxBytes)
                .maxLineLength(maxLineLength, LongLines.SPLIT)
                .build(),
            bufferSize);

    List<SourceBatch<String>> batches = LineFileSourceTest.readAll(source, "");
    List<String> expected = model.stream().map(Piece::text).toList();
    assertEquals(expected, batches.stream().flatMap(b -> b.records().stream()).toList());
    long offset = 0;
    int delivered = 0;
    for (SourceBatch<String> b : batches) {
      long start = offset;
      for (int i = 0; i < b.records().size(); i++) {
        Piece p = model.get(delivered + i);
        offset += p.content().length + p.end().length;
      }
      delivered += b.records().size();
      assertEquals(offset, offsetOf(b.resumeToken()), "token of " + b);
      assertEquals(delivered, Collecting.lineFileRecordCount(b.resumeToken()), "count " + b);
      assertTrue(b.records().size() <= maxLines, "maxLines: " + b);
      assertTrue(offset - start <= maxBytes || b.records().size() == 1, "maxBytes: " + b);
    }
    int consumed = 0;
    for (SourceBatch<String> b : batches) {
      consumed += b.records().size();
      List<SourceBatch<String>> rest = LineFileSourceTest.readAll(source, b.resumeToken());
      assertEquals(
          expected.subList(consumed, expected.size()),
          rest.stream().flatMap(r -> r.records().stream()).toList(),
          "resumed at " + b);
      if (!rest.isEmpty()) {
        assertEquals(
            batches.get(batches.size() - 1).resumeToken(),
            rest.get(rest.size() - 1).resumeToken(),
            "the same end, whatever the resume point");
      }
    }
    Files.delete(file);
  }

  @Property
  void failAndReject_deliverTheModelOrFailNamingTheFile(
      @ForAll("contents") byte[] data,
      @ForAll @IntRange(min = 1, max = 12) int maxLineLength,
      @ForAll @IntRange(min = 1, max = 9) int bufferSize)
      throws Exception {
    Path file = write(data);
    List<Piece> lines = model(data, Integer.MAX_VALUE);
    boolean tooLong = lines.stream().anyMatch(p -> p.content().length > maxLineLength);
    boolean invalid =
        lines.stream()
            .anyMatch(p -> !Arrays.equals(p.content(), p.text().getBytes(StandardCharsets.UTF_8)));
    var source =
        new LineFileSource(
            file,
            LineSourceOptions.builder()
                .maxLineLength(maxLineLength, LongLines.FAIL)
                .malformedInput(MalformedInput.REJECT)
                .build(),
            bufferSize);
    if (tooLong || invalid) {
      var e = assertThrows(IOException.class, () -> LineFileSourceTest.readAll(source, ""));
      assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    } else {
      assertEquals(
          lines.stream().map(Piece::text).toList(),
          LineFileSourceTest.readAll(source, "").stream()
              .flatMap(b -> b.records().stream())
              .toList());
      assertEquals(
          new String(data, StandardCharsets.UTF_8),
          String.join(
              "",
              lines.stream()
                  .map(p -> p.text() + new String(p.end(), StandardCharsets.UTF_8))
                  .toList()),
          "records plus line ends are the file");
    }
    Files.delete(file);
  }

  /**
   * Following a file written in two parts (cut anywhere, also inside a CR LF): what is delivered is
   * the model of the whole file, less the pieces of an unterminated last line that may still grow.
   */
  @Property(tries = 60)
  void follow_fileWrittenInTwoParts_deliversTheModelOfTheCompleteLines(
      @ForAll("contents") byte[] data,
      @ForAll @IntRange(min = 1, max = 12) int maxLineLength,
      @ForAll @IntRange(min = 1, max = 9) int bufferSize,
      @ForAll @IntRange(min = 0, max = 1000) int cutPerMille)
      throws Exception {
    int cut = data.length * cutPerMille / 1000;
    Path file = write(Arrays.copyOf(data, cut));
    List<Piece> model = model(data, maxLineLength);
    int lastLineStart = 0;
    for (int i = 0; i < data.length; i++) {
      lastLineStart = data[i] == '\n' ? i + 1 : lastLineStart;
    }
    int open = data.length - lastLineStart; // bytes of an unterminated last line
    int settled = open > 0 && data[data.length - 1] == '\r' ? open - 1 : open;
    int unsettledPieces =
        open == 0
            ? 0
            : (open + maxLineLength - 1) / maxLineLength
                - Math.max(0, (settled + maxLineLength - 1) / maxLineLength - 1);
    List<String> expected =
        model.subList(0, model.size() - unsettledPieces).stream().map(Piece::text).toList();
    var source =
        new LineFileSource(
            file,
            LineSourceOptions.builder()
                .maxLines(3)
                .maxLineLength(maxLineLength, LongLines.SPLIT)
                .follow(Duration.ofMillis(1))
                .build(),
            bufferSize);
    try (SourceReader<String> reader = source.open("")) {
      var read =
          CompletableFuture.supplyAsync(
              () -> {
                List<String> got = new ArrayList<>();
                try {
                  while (got.size() < expected.size()) {
                    got.addAll(reader.next().records());
                  }
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
                return got;
              },
              Thread::startVirtualThread);
      Files.write(file, Arrays.copyOfRange(data, cut, data.length), StandardOpenOption.APPEND);
      assertEquals(expected, read.get(10, TimeUnit.SECONDS));
    }
    Files.delete(file);
  }
}
