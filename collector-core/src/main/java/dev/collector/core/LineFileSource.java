package dev.collector.core;

import dev.collector.BatchSource;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.core.LineSourceOptions.LongLines;
import dev.collector.core.LineSourceOptions.MalformedInput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * See {@link Collecting#lineFileSource(Path, LineSourceOptions)}.
 *
 * <p>Thread-safety: the source is immutable and may be opened from any thread; a reader is used by
 * one thread at a time (the collector's fetcher).
 *
 * <p>Blocking: {@link SourceReader#next()} does file I/O; a following reader with nothing new to
 * deliver sleeps {@link LineSourceOptions#pollInterval()} at a time and answers an interrupt with
 * {@link InterruptedException}.
 *
 * <p>Failures: an {@link IOException} names the file and the byte offset (a line too long, not
 * UTF-8, a file truncated below what was delivered, a checkpoint whose file is gone) and says what
 * to do. A rotated file is not a failure: see the design note.
 */
final class LineFileSource implements BatchSource<String> {

  /*
   * Records and bytes. A line ends at "\n" or "\r\n"; a "\r" not followed by "\n" is content.
   * maxLineLength limits the content (line end excluded). LongLines.SPLIT cuts a longer line
   * into pieces of maxLineLength bytes: every byte of the file is in exactly one record or line
   * end, none is invented (no empty piece before a line end, no "\r" dropped). A last line
   * without a line end is a record when the file is finished: at the end of a finite source,
   * and at the end of a rotated file; a following reader holds it (and a trailing "\r", which
   * may yet become a line end) until it is complete. Memory stays bounded: a pending line never
   * holds more than maxLineLength bytes, whatever the input.
   *
   * Batches: at most maxLines records and at most maxBytes bytes of the file (line ends
   * included); a single record larger than maxBytes is a batch of its own. A record that does
   * not fit is held for the next batch. A batch never spans two files.
   *
   * Resume token: "<file identity>@<byte offset>#<records>/<kind><crc>", the offset right after
   * the batch's last record, the number of records of that file before it, what the offset is
   * (l: a line start; s: after a piece of a split line; u: after a last line delivered without
   * a line end), and the CRC32C of the file's first min(offset, HEAD_BYTES) bytes. The identity
   * is the file system's file key (device and inode on Unix), else its creation time; the
   * fingerprint tells a file that reused a deleted file's inode, or was truncated and written
   * again, from the checkpoint's file. A file now shorter than the offset was truncated, one
   * whose fingerprint differs was replaced or rewritten: reported, never silently re-read or
   * skipped. An "l" offset must follow a '\n' (or be 0). A "u" token resumes after a line that
   * may have been incomplete: if the file now holds just its line end there, that is skipped;
   * if it continues the line, open()'s reader reports it (the record delivered was cut short).
   * Tokens of earlier versions open: without "/<kind><crc>" there is no fingerprint check and
   * the offset must be a line start (with LongLines.SPLIT a piece boundary is taken on trust);
   * without "#<records>" the records are counted once, which checks the offset.
   *
   * Follow mode and replays: a following reader cuts a batch where the file ends when it reads
   * it, so a batch's boundaries depend on timing, and a batch replayed after a crash may hold
   * more records than it did the first time (later sequences shift). Records do not shift: the
   * number of a record in its file is reproducible from any checkpoint. A sink that must not
   * write a record twice deduplicates by (file identity, record number), not by batch sequence:
   * record i of a batch is number n - size + i, where n is the token's "#<records>"
   * (Collecting.lineFileRecordCount). Finite sources cut reproducible batches.
   *
   * Rotation (like tail -F): the reader keeps the channel of the file it opened. When the path
   * names another file (rename + new file, as logrotate does), the reader first reads the old
   * file to its end, delivering an unterminated last line too; it switches to the new file only
   * once the new file exists and the old one did not grow during one poll interval, since a
   * writer may still append to the renamed file until it reopens. A line written to the old
   * file later than that is not read (tail -F has the same limit). The last batch of the old
   * file has a token of the old file; the new file's batches, tokens of the new one (records
   * numbered from 0 again). Nothing fails, so the run goes on and commits both files in order.
   * A checkpoint in a rotated file is found again by its identity among the files of the same
   * directory (app.log.1): open() reads the rest of it, then the file at the path. If it is no
   * longer there (deleted, compressed, moved away), open() fails naming the checkpoint.
   * After a rotated file, the next one is the next younger numbered rotated file
   * (<name>.<N>, highest N oldest) still in the directory, found by identity, then the file at
   * the path: two rotations between reads, or since the checkpoint, lose nothing. Other naming
   * schemes are not ordered: the checkpoint's file is followed by the file at the path.
   * Copy-and-truncate rotation is reported as truncation: below the position when the reader
   * waits, and, when the file grows after the reader had caught up with its end, by reading the
   * first bytes again (kept in head) and comparing.
   */

  /** Bytes at the start of a file whose CRC32C a token carries. */
  static final int HEAD_BYTES = 4096;

  private final Path file;
  private final LineSourceOptions options;
  private final int bufferSize;

  LineFileSource(Path file, LineSourceOptions options) {
    this(file, options, 64 * 1024);
  }

  /** With a read buffer of {@code bufferSize} bytes; tests use tiny ones. */
  LineFileSource(Path file, LineSourceOptions options, int bufferSize) {
    this.file = file.toAbsolutePath();
    this.options = options;
    this.bufferSize = bufferSize;
  }

  static String identityOf(Path file) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    Object key = attributes.fileKey();
    return key != null ? key.toString() : "created=" + attributes.creationTime();
  }

  /** The identity of the file now at the path, or null if there is none. */
  private @Nullable String identityAtPath() throws IOException {
    try {
      return identityOf(file);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new IOException("could not read the attributes of line file " + file + ": " + e, e);
    }
  }

  /** A channel on {@code path} and the identity of the very file it reads. */
  private record Opened(FileChannel channel, String identity, Path path) {}

  private static Opened openVerified(Path path) throws IOException {
    for (int attempt = 1; ; attempt++) {
      FileChannel channel;
      String before;
      try {
        if (Files.isDirectory(path)) {
          throw new IOException(
              "line file " + path + " is a directory; give the path of the" + " text file to read");
        }
        before = identityOf(path);
        channel = FileChannel.open(path, StandardOpenOption.READ);
      } catch (IOException e) {
        if (Files.isDirectory(path)) {
          throw e;
        }
        throw new IOException("could not open line file " + path + ": " + e, e);
      }
      try {
        if (identityOf(path).equals(before)) {
          return new Opened(channel, before, path);
        }
      } catch (IOException e) {
        // replaced or removed between the two looks: try again
      }
      channel.close();
      if (attempt == 3) {
        throw new IOException(
            "line file "
                + path
                + " was replaced three times while being"
                + " opened; open the source again when its rotation is over");
      }
    }
  }

  /** How a record ends, and so what a token after it points at. */
  private enum End {
    /** At a line end: the token's offset is a line start. Token kind {@code l}. */
    LINE('l'),
    /** A piece of a split long line: the offset is inside a line. Token kind {@code s}. */
    PIECE('s'),
    /** A last line without a line end, delivered as the end of the data. Token kind {@code u}. */
    UNTERMINATED('u');

    final char kind;

    End(char kind) {
      this.kind = kind;
    }

    static @Nullable End of(char kind) {
      for (End end : values()) {
        if (end.kind == kind) {
          return end;
        }
      }
      return null;
    }
  }

  /**
   * A parsed resume token; {@code records} is -1 for a token of the first version ({@code
   * id@offset}), {@code end} and {@code fingerprint} are null for a token without the {@code
   * /<kind><crc32c>} suffix (earlier versions).
   */
  private record Position(
      String identity,
      long offset,
      long records,
      @Nullable End end,
      @Nullable Integer fingerprint) {}

  private static @Nullable Position parse(String token) {
    int at = token.lastIndexOf('@');
    if (at <= 0) {
      return null;
    }
    int hash = token.indexOf('#', at);
    int slash = hash < 0 ? -1 : token.indexOf('/', hash);
    try {
      long offset = Long.parseLong(token.substring(at + 1, hash < 0 ? token.length() : hash));
      long records =
          hash < 0
              ? -1
              : Long.parseLong(token.substring(hash + 1, slash < 0 ? token.length() : slash));
      if (offset < 0 || (hash >= 0 && records < 0)) {
        return null;
      }
      End end = null;
      Integer fingerprint = null;
      if (slash >= 0) {
        String suffix = token.substring(slash + 1);
        if (suffix.length() != 9
            || !suffix
                .substring(1)
                .chars()
                .allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
          return null;
        }
        end = End.of(suffix.charAt(0));
        if (end == null) {
          return null;
        }
        fingerprint = (int) Long.parseLong(suffix.substring(1), 16);
      }
      return new Position(token.substring(0, at), offset, records, end, fingerprint);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** The fingerprint of a file: CRC32C of its first {@code length} bytes. */
  private static int fingerprint(byte[] head, int length) {
    CRC32C crc = new CRC32C();
    crc.update(head, 0, length);
    return (int) crc.getValue();
  }

  /** Reads bytes {@code [0, length)} of the channel; fewer if the file is shorter. */
  private static int readHead(FileChannel channel, byte[] head, int length) throws IOException {
    ByteBuffer target = ByteBuffer.wrap(head, 0, length);
    while (target.hasRemaining()) {
      if (channel.read(target, target.position()) <= 0) {
        break;
      }
    }
    return target.position();
  }

  /** The byte at {@code offset}, or -1 past the end. */
  private static int byteAt(FileChannel channel, long offset) throws IOException {
    ByteBuffer one = ByteBuffer.allocate(1);
    return channel.read(one, offset) == 1 ? one.get(0) & 0xFF : -1;
  }

  /**
   * See {@link Collecting#lineFileRecordCount(String)}.
   *
   * @throws IllegalArgumentException if the token is not one of this source's
   */
  static long recordCount(String resumeToken) {
    Position position = parse(resumeToken);
    if (position == null || position.records() < 0) {
      throw new IllegalArgumentException(
          "\""
              + resumeToken
              + "\" is not a resume token of the"
              + " line-file source (<file identity>@<byte offset>#<records>)");
    }
    return position.records();
  }

  @Override
  public SourceReader<String> open(String resumeToken) throws IOException {
    if (resumeToken.isEmpty()) {
      return new Reader(openVerified(file), 0, 0);
    }
    Position position = parse(resumeToken);
    if (position == null) {
      throw new IOException(
          "resume token \""
              + resumeToken
              + "\" is not a line-file position"
              + " (<file identity>@<byte offset>#<records>); was the checkpoint written for another"
              + " source than "
              + file
              + "?");
    }
    Opened opened;
    if (position.identity().equals(identityAtPath())) {
      opened = openVerified(file);
    } else {
      Path rotated = findRotated(position.identity());
      if (rotated == null) {
        throw new IOException(
            "file "
                + file
                + " was replaced since the checkpoint (it was "
                + position.identity()
                + ", it is now "
                + identityAtPath()
                + "), and no file in "
                + file.getParent()
                + " is the checkpoint's file any more (rotated, then deleted,"
                + " compressed or moved away?). Reading "
                + file
                + " from byte "
                + position.offset()
                + " would skip or repeat lines. Restore the file, or start this source from a new"
                + " checkpoint file deliberately");
      }
      opened = openVerified(rotated);
    }
    if (!opened.identity().equals(position.identity())) {
      opened.channel().close();
      throw new IOException(
          "line file "
              + opened.path()
              + " was replaced while being opened;"
              + " open the source again");
    }
    try {
      long size = opened.channel().size();
      if (size < position.offset()) {
        throw new IOException(
            "file "
                + opened.path()
                + " was truncated below the checkpoint:"
                + " it has "
                + size
                + " bytes, the checkpoint is at byte "
                + position.offset()
                + ". Lines were lost or will be read twice; restore the file, or start from a new"
                + " checkpoint file deliberately");
      }
      long offset = position.offset();
      Reader reader;
      if (position.records() >= 0) {
        reader = new Reader(opened, offset, position.records());
      } else {
        reader = new Reader(opened, offset, new Reader(opened, 0, 0).countRecordsTo(offset));
      }
      int headLength = (int) Math.min(offset, HEAD_BYTES);
      if (readHead(opened.channel(), reader.head, headLength) < headLength) {
        throw new IOException(
            "file "
                + opened.path()
                + " was truncated below the checkpoint"
                + " while being opened (byte "
                + offset
                + "); restore the file, or start from a"
                + " new checkpoint file deliberately");
      }
      reader.headLength = headLength;
      Integer expected = position.fingerprint();
      if (expected != null && expected != fingerprint(reader.head, headLength)) {
        throw new IOException(
            "file "
                + opened.path()
                + " is not the checkpoint's content any"
                + " more: its first "
                + headLength
                + " bytes changed since the checkpoint at byte "
                + offset
                + " was taken (the file was truncated and written again, or deleted and"
                + " a new file got the old one's identity). Reading on from byte "
                + offset
                + " would skip or repeat lines; restore the file, or start this source from a new"
                + " checkpoint file deliberately");
      }
      End end = position.end();
      if (end == End.UNTERMINATED) {
        reader.continuing = true;
        reader.crBefore = offset > 0 && byteAt(opened.channel(), offset - 1) == '\r';
      } else if (offset > 0
          && end != End.PIECE
          && !(end == null && options.longLines() == LongLines.SPLIT)
          && byteAt(opened.channel(), offset - 1) != '\n') {
        throw new IOException(
            "resume token \""
                + resumeToken
                + "\" points at byte "
                + offset
                + " of "
                + opened.path()
                + ", which is not the start of a line (the byte before it"
                + " is not a line end): resuming there would deliver the rest of a line as a record"
                + " of its own. The checkpoint does not belong to this file (or was edited);"
                + " restore it, or start this source from a new checkpoint file deliberately");
      }
      return reader;
    } catch (IOException | RuntimeException e) {
      opened.channel().close();
      throw e;
    }
  }

  /** The file of {@code identity} in the path's directory (app.log.1 after a rotation). */
  private @Nullable Path findRotated(String identity) throws IOException {
    Path directory = file.getParent();
    if (directory == null) {
      return null;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
      for (Path candidate : files) {
        try {
          if (Files.isRegularFile(candidate) && identityOf(candidate).equals(identity)) {
            return candidate;
          }
        } catch (IOException e) {
          // removed while we looked: not the one
        }
      }
    } catch (IOException | DirectoryIteratorException e) {
      throw new IOException(
          "could not look for the checkpoint's file in " + directory + ": " + e, e);
    }
    return null;
  }

  /** A file of the directory and its identity when it was listed. */
  private record Named(Path path, String identity) {}

  /**
   * The rotated files of the path in its directory ({@code <name>.<N>}, the logrotate naming),
   * oldest first (highest N first), with their identities; files that vanish while listed are left
   * out.
   */
  private List<Named> rotatedFilesOldestFirst() throws IOException {
    Path directory = file.getParent();
    Path fileName = file.getFileName();
    List<Path> numbered = new ArrayList<>();
    if (directory == null || fileName == null) {
      return List.of();
    }
    String prefix = fileName + ".";
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
      for (Path candidate : files) {
        String name = String.valueOf(candidate.getFileName());
        if (name.startsWith(prefix)
            && name.length() > prefix.length()
            && name.length() - prefix.length() <= 9
            && name.substring(prefix.length()).chars().allMatch(c -> c >= '0' && c <= '9')) {
          numbered.add(candidate);
        }
      }
    } catch (IOException | DirectoryIteratorException e) {
      throw new IOException(
          "could not list the rotated files of " + file + " in " + directory + ": " + e, e);
    }
    numbered.sort((a, b) -> Integer.compare(rotationNumber(b, prefix), rotationNumber(a, prefix)));
    List<Named> result = new ArrayList<>();
    for (Path candidate : numbered) {
      try {
        if (Files.isRegularFile(candidate)) {
          result.add(new Named(candidate, identityOf(candidate)));
        }
      } catch (IOException e) {
        // removed while we looked: not one of them any more
      }
    }
    return result;
  }

  private static int rotationNumber(Path rotated, String prefix) {
    return Integer.parseInt(String.valueOf(rotated.getFileName()).substring(prefix.length()));
  }

  /**
   * The file that comes after the one of {@code identity} in rotation order: the next younger
   * numbered rotated file ({@code app.log.2} after {@code app.log.3}), else the file at the path.
   * Null when the one after it is the file at the path (or it is not a numbered rotated file: its
   * successor cannot be known, so the path is next).
   *
   * @param identity the identity of the file just read to its end
   */
  private @Nullable Named successorOf(String identity) throws IOException {
    List<Named> rotated = rotatedFilesOldestFirst();
    String atPath = identityAtPath();
    for (int i = 0; i < rotated.size(); i++) {
      if (rotated.get(i).identity().equals(identity)) {
        for (int j = i + 1; j < rotated.size(); j++) {
          Named next = rotated.get(j);
          if (!next.identity().equals(identity) && !next.identity().equals(atPath)) {
            return next;
          }
        }
        return null;
      }
    }
    return null;
  }

  /** One record: its text, where it starts and ends in its file, and its number there. */
  private record Line(String text, long start, long end, long number, End ending) {}

  private final class Reader implements SourceReader<String> {
    private final ByteBuffer buffer = ByteBuffer.allocate(bufferSize).flip();
    private final CharsetDecoder decoder;
    private FileChannel channel;
    private String identity;
    private Path path; // the path the channel was opened at: the file, or its rotated name
    private byte[] lineBytes = new byte[256];
    private int lineLength; // content bytes of the pending line, CR of a line end excluded
    private boolean pendingCr; // a '\r' read after them: content, or the start of "\r\n"
    private long lineStart; // offset of the first byte of the pending line
    private long readPosition; // offset of the next byte to read from the channel
    private long records; // records of this file before lineStart
    private long delivered; // end of the last record handed out (or the start offset)
    private long quietAt = -1; // rotation: readPosition when the old file was last drained
    private @Nullable Line held; // read, but did not fit the last batch
    final byte[] head = new byte[HEAD_BYTES]; // the file's first bytes, for fingerprints
    int headLength; // bytes of head known: min(readPosition, HEAD_BYTES)
    private boolean atEnd; // the last read found the end of the file
    boolean continuing; // opened after a delivered unterminated line: its end may follow
    boolean crBefore; // ... and that line's last byte was '\r'

    Reader(Opened opened, long offset, long records) {
      this.channel = opened.channel();
      this.identity = opened.identity();
      this.path = opened.path();
      this.lineStart = offset;
      this.readPosition = offset;
      this.delivered = offset;
      this.records = records;
      CodingErrorAction action =
          options.malformedInput() == MalformedInput.REPLACE
              ? CodingErrorAction.REPLACE
              : CodingErrorAction.REPORT;
      this.decoder =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(action)
              .onUnmappableCharacter(action);
    }

    @Override
    public @Nullable SourceBatch<String> next() throws IOException, InterruptedException {
      List<String> lines = new ArrayList<>();
      Line first = null;
      Line last = null;
      while (lines.size() < options.maxLines()) {
        Line line = nextLine(first == null);
        if (line == null) {
          break;
        }
        if (first != null && line.end() - first.start() > options.maxBytes()) {
          held = line;
          break;
        }
        if (first == null) {
          first = line;
        }
        lines.add(line.text());
        last = line;
      }
      if (last == null) {
        return null;
      }
      delivered = last.end();
      int fingerprinted = (int) Math.min(last.end(), HEAD_BYTES);
      return new SourceBatch<>(
          lines,
          identity
              + "@"
              + last.end()
              + "#"
              + (last.number() + 1)
              + "/"
              + last.ending().kind
              + HexFormat.of().toHexDigits(fingerprint(head, fingerprinted)));
    }

    /**
     * The next record; null when none is available now and {@code wait} is false, or when a finite
     * source is exhausted. Follows rotations, and waits for growth in follow mode.
     */
    private @Nullable Line nextLine(boolean wait) throws IOException, InterruptedException {
      Line line = held;
      if (line != null) {
        held = null;
        return line;
      }
      while (true) {
        line = afterContinuation(readLine(!options.follow()));
        if (line != null || !wait) {
          return line;
        }
        if (rotatedAndDrained()) {
          line = afterContinuation(readLine(true)); // the old file's last line, unterminated
          if (line != null) {
            return line;
          }
          switchToPath();
        } else if (!options.follow()) {
          return null;
        } else {
          awaitGrowth();
        }
      }
    }

    /**
     * {@code line}, unless it is the line end of an unterminated line delivered before this reader
     * was opened: then the record after it (read now), or null if none is complete yet. A
     * continuation with content is reported: the delivered record was cut short.
     */
    private @Nullable Line afterContinuation(@Nullable Line line) throws IOException {
      if (!continuing || line == null) {
        return line;
      }
      continuing = false;
      boolean lineEndOnly =
          line.ending() == End.LINE
              && line.text().isEmpty()
              && !(crBefore && line.end() - line.start() == 1);
      if (!lineEndOnly) {
        throw new IOException(
            "the last line of "
                + path
                + ", delivered without a line end as"
                + " the end of the data (it ends at byte "
                + line.start()
                + ", the checkpoint), was"
                + " continued later: the file now holds more of that line after byte "
                + line.start()
                + ". The delivered record was cut short, and resuming would deliver"
                + " the rest as a record of its own. Read a file that is still being written in"
                + " follow mode, which holds a last line until it is complete; to go on, start this"
                + " source from a new checkpoint file deliberately");
      }
      records--; // the line end belongs to the record delivered before
      return readLine(!options.follow());
    }

    /**
     * The next complete record, or null when the data read so far ends without one. With {@code
     * finished}, the end of the data also ends a line.
     */
    private @Nullable Line readLine(boolean finished) throws IOException {
      while (true) {
        while (buffer.hasRemaining()) {
          byte b = buffer.get(buffer.position());
          if (pendingCr) {
            if (b == '\n') {
              buffer.get();
              pendingCr = false;
              return emit(position(), End.LINE);
            }
            if (lineLength == options.maxLineLength()) {
              return tooLong(position() - 1); // the '\r' starts the next piece
            }
            pendingCr = false;
            append((byte) '\r');
            continue;
          }
          if (b == '\n') {
            buffer.get();
            return emit(position(), End.LINE);
          }
          if (b == '\r') {
            buffer.get();
            pendingCr = true;
            continue;
          }
          if (lineLength == options.maxLineLength()) {
            return tooLong(position());
          }
          buffer.get();
          append(b);
        }
        if (!fill()) {
          if (!finished || (lineLength == 0 && !pendingCr)) {
            return null;
          }
          if (pendingCr) {
            if (lineLength == options.maxLineLength()) {
              return tooLong(position() - 1);
            }
            pendingCr = false;
            append((byte) '\r');
          }
          return emit(position(), End.UNTERMINATED);
        }
      }
    }

    /** The offset of the next unconsumed byte. */
    private long position() {
      return readPosition - buffer.remaining();
    }

    private Line tooLong(long pieceEnd) throws IOException {
      if (options.longLines() == LongLines.FAIL) {
        throw new IOException(
            "the line at byte offset "
                + lineStart
                + " of "
                + path
                + " is longer than maxLineLength ("
                + options.maxLineLength()
                + " bytes, line end"
                + " excluded); raise the limit or use LongLines.SPLIT");
      }
      return emit(pieceEnd, End.PIECE);
    }

    private Line emit(long end, End ending) throws IOException {
      Line line = new Line(decode(), lineStart, end, records++, ending);
      lineStart = end;
      lineLength = 0;
      return line;
    }

    private void append(byte b) {
      if (lineLength == lineBytes.length) {
        lineBytes =
            Arrays.copyOf(
                lineBytes, (int) Math.min((long) lineBytes.length * 2, options.maxLineLength()));
      }
      lineBytes[lineLength++] = b;
    }

    /** Reads more bytes; false at the current end of the file. */
    private boolean fill() throws IOException {
      buffer.clear();
      int read;
      try {
        read = channel.read(buffer, readPosition);
      } finally {
        buffer.flip();
      }
      if (read <= 0) {
        atEnd = true;
        return false;
      }
      if (atEnd) {
        atEnd = false;
        verifyHead(); // grown after the reader caught up: still the same file's bytes?
      }
      if (readPosition < HEAD_BYTES) {
        int n = (int) Math.min(read, HEAD_BYTES - readPosition);
        buffer.get(buffer.position(), head, (int) readPosition, n);
        headLength = (int) (readPosition + n);
      }
      readPosition += read;
      return true;
    }

    private String decode() throws IOException {
      try {
        CharBuffer chars = decoder.reset().decode(ByteBuffer.wrap(lineBytes, 0, lineLength));
        return chars.toString();
      } catch (CharacterCodingException e) {
        throw new IOException(
            "the line at byte offset "
                + lineStart
                + " of "
                + path
                + " is not valid UTF-8; use MalformedInput.REPLACE to decode it anyway",
            e);
      }
    }

    /**
     * Whether the path names another file than the one being read, and this one is done: the new
     * file exists and (when following) this one did not grow during the last poll.
     */
    private boolean rotatedAndDrained() throws IOException {
      String atPath = identityAtPath();
      if (atPath == null || atPath.equals(identity)) {
        quietAt = -1;
        return false;
      }
      if (!options.follow() || quietAt == readPosition) {
        return true;
      }
      quietAt = readPosition;
      return false;
    }

    /**
     * Continues with the file after this one in rotation order: a younger rotated file that is
     * still there (two rotations between two looks), else the file at the path.
     */
    private void switchToPath() throws IOException {
      Opened next = null;
      for (int attempt = 1; next == null; attempt++) {
        Named successor = successorOf(identity);
        Opened opened = openVerified(successor == null ? file : successor.path());
        if (successor == null || opened.identity().equals(successor.identity())) {
          next = opened;
        } else {
          opened.channel().close(); // rotated again while we looked
          if (attempt == 3) {
            throw new IOException(
                "the rotated files of "
                    + file
                    + " were renamed three times"
                    + " while looking for the one after "
                    + path
                    + "; open the source again when"
                    + " its rotation is over");
          }
        }
      }
      FileChannel old = channel;
      channel = next.channel();
      identity = next.identity();
      path = next.path();
      buffer.clear().flip();
      lineLength = 0;
      pendingCr = false;
      lineStart = 0;
      readPosition = 0;
      headLength = 0;
      atEnd = false;
      continuing = false;
      records = 0;
      delivered = 0;
      quietAt = -1;
      old.close();
    }

    /**
     * Reports a copy-and-truncate rotation whose new content already reaches past the read
     * position: the first bytes read earlier are no longer in the file.
     */
    private void verifyHead() throws IOException {
      if (headLength == 0) {
        return;
      }
      byte[] now = new byte[headLength];
      int got = readHead(channel, now, headLength);
      if (got < headLength || !Arrays.equals(now, 0, headLength, head, 0, headLength)) {
        throw new IOException(
            "file "
                + path
                + " was truncated and written again while being"
                + " read (copy-and-truncate rotation?): its first "
                + headLength
                + " bytes changed."
                + " Records were delivered up to byte "
                + delivered
                + " (the last batch's resume"
                + " token); what the file holds now is not the continuation. Restore the file, or"
                + " start from a new checkpoint file deliberately");
      }
    }

    /** Following: waits one poll interval for the file to grow, reporting truncation. */
    private void awaitGrowth() throws IOException, InterruptedException {
      long size = channel.size();
      if (size < readPosition) {
        throw new IOException(
            "file "
                + path
                + " was truncated to "
                + size
                + " bytes while"
                + " being followed; records were delivered up to byte "
                + delivered
                + " (the last"
                + " batch's resume token) and "
                + (readPosition - delivered)
                + " more bytes were"
                + " read. What it holds now is not the continuation: restore the file, or start"
                + " from a new checkpoint file deliberately");
      }
      Thread.sleep(options.pollInterval());
    }

    /** Opening at a token of an earlier version: the records of the file before offset. */
    long countRecordsTo(long offset) throws IOException {
      while (lineStart < offset) {
        Line line = readLine(true);
        if (line == null || line.end() > offset) {
          throw new IOException(
              "byte "
                  + offset
                  + " of "
                  + path
                  + " is not where a record"
                  + " ends; the checkpoint does not belong to this file or these options");
        }
      }
      return records;
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
