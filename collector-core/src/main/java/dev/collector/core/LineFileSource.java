package dev.collector.core;

import dev.collector.BatchSource;
import dev.collector.LineSourceOptions;
import dev.collector.LineSourceOptions.LongLines;
import dev.collector.LineSourceOptions.MalformedInput;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** See {@link Collecting#lineFileSource(Path, LineSourceOptions)}. */
final class LineFileSource implements BatchSource<String> {

  /*
   * Resume token: "<file identity>@<byte offset>", the offset being right after the last line
   * of the batch (after its '\n'), or after the last piece of a split line. The identity is the
   * file system's file key (device and inode on Unix), else its creation time: a file replaced
   * under the same name (log rotation, a restore) has another identity and is reported instead
   * of being read from a wrong offset. A file now shorter than the offset was truncated: also
   * reported, never silently re-read or skipped.
   *
   * Reading: one FileChannel, a 64 KiB buffer, a byte scan for '\n'. A pending line's bytes
   * are kept in lineBytes, which never grows past maxLineLength: a longer line fails or is
   * split before that, so memory is bounded whatever the input (no OutOfMemoryError on a
   * file without newlines). "\r\n" ends a line like "\n".
   *
   * End of file: a finite source delivers a last line without '\n' as a line; a following
   * source holds it until its '\n' arrives (it may still be being written), polling every
   * pollInterval. The poll sleeps interruptibly, so cancelling a run interrupts it at once.
   */

  private final Path file;
  private final LineSourceOptions options;

  LineFileSource(Path file, LineSourceOptions options) {
    this.file = file;
    this.options = options;
  }

  static String identityOf(Path file) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    Object key = attributes.fileKey();
    return key != null ? key.toString() : "created=" + attributes.creationTime();
  }

  @Override
  public SourceReader<String> open(String resumeToken) throws IOException {
    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
    try {
      String identity = identityOf(file);
      long offset = 0;
      if (!resumeToken.isEmpty()) {
        int at = resumeToken.lastIndexOf('@');
        long parsed = -1;
        if (at > 0) {
          try {
            parsed = Long.parseLong(resumeToken.substring(at + 1));
          } catch (NumberFormatException e) {
            parsed = -1;
          }
        }
        if (parsed < 0) {
          throw new IOException("resume token \"" + resumeToken + "\" is not a line-file"
              + " position (<file identity>@<byte offset>); was the checkpoint written for"
              + " another source?");
        }
        String tokenIdentity = resumeToken.substring(0, at);
        if (!tokenIdentity.equals(identity)) {
          throw new IOException("file " + file + " was replaced since the checkpoint (it was "
              + tokenIdentity + ", it is now " + identity + "); reading it from byte " + parsed
              + " would skip or repeat lines. Restore the file, or start this source from a"
              + " new checkpoint file deliberately");
        }
        long size = channel.size();
        if (size < parsed) {
          throw truncated(size, parsed);
        }
        offset = parsed;
      }
      return new Reader(channel, identity, offset);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private IOException truncated(long size, long offset) {
    return new IOException("file " + file + " was truncated below the checkpoint: it has "
        + size + " bytes, the checkpoint is at byte " + offset + ". Lines were lost or will be"
        + " read twice; restore the file, or start from a new checkpoint file deliberately");
  }

  private final class Reader implements SourceReader<String> {
    private final FileChannel channel;
    private final String identity;
    private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024).flip();
    private final CharsetDecoder decoder;
    private byte[] lineBytes = new byte[256];
    private int lineLength;
    private long lineStart; // offset of the first byte of the pending line
    private long readPosition; // offset of the next byte to read from the channel
    private boolean atEnd;

    Reader(FileChannel channel, String identity, long offset) {
      this.channel = channel;
      this.identity = identity;
      this.lineStart = offset;
      this.readPosition = offset;
      CodingErrorAction action =
          options.malformedInput() == MalformedInput.REPLACE
              ? CodingErrorAction.REPLACE
              : CodingErrorAction.REPORT;
      this.decoder =
          StandardCharsets.UTF_8.newDecoder()
              .onMalformedInput(action)
              .onUnmappableCharacter(action);
    }

    @Override
    public @Nullable SourceBatch<String> next() throws IOException, InterruptedException {
      List<String> lines = new ArrayList<>();
      long bytes = 0;
      while (lines.size() < options.maxLines() && bytes < options.maxBytes()) {
        long before = lineStart;
        String line = readLine();
        if (line == null) {
          if (!options.follow() && lineLength > 0) {
            line = decode(); // the last line has no line end: deliver it
            lineStart = readPosition;
            lineLength = 0;
          } else if (!lines.isEmpty()) {
            break;
          } else if (!options.follow()) {
            return null;
          } else {
            awaitGrowth();
            continue;
          }
        }
        lines.add(line);
        bytes += lineStart - before;
      }
      return new SourceBatch<>(lines, identity + "@" + lineStart);
    }

    /** The next complete line, or null when the data read so far ends without one. */
    private @Nullable String readLine() throws IOException {
      while (true) {
        while (buffer.hasRemaining()) {
          byte b = buffer.get(buffer.position());
          if (b == '\n') {
            buffer.get();
            String line = decode();
            lineStart += lineLength + 1;
            lineLength = 0;
            return line;
          }
          if (lineLength == options.maxLineLength()) {
            if (options.longLines() == LongLines.FAIL) {
              throw new IOException("the line at byte offset " + lineStart + " of " + file
                  + " is longer than maxLineLength (" + options.maxLineLength() + " bytes);"
                  + " raise the limit or use LongLines.SPLIT");
            }
            String piece = decode();
            lineStart += lineLength;
            lineLength = 0;
            return piece;
          }
          buffer.get();
          append(b);
        }
        if (!fill()) {
          return null;
        }
      }
    }

    private void append(byte b) {
      if (lineLength == lineBytes.length) {
        lineBytes = Arrays.copyOf(lineBytes,
            (int) Math.min((long) lineBytes.length * 2, options.maxLineLength()));
      }
      lineBytes[lineLength++] = b;
    }

    /** Reads more bytes; false at the current end of the file. */
    private boolean fill() throws IOException {
      buffer.clear();
      int read = channel.read(buffer, readPosition);
      buffer.flip();
      if (read <= 0) {
        atEnd = true;
        return false;
      }
      atEnd = false;
      readPosition += read;
      return true;
    }

    private String decode() throws IOException {
      int length = lineLength;
      if (length > 0 && lineBytes[length - 1] == '\r') {
        length--;
      }
      try {
        CharBuffer chars = decoder.reset().decode(ByteBuffer.wrap(lineBytes, 0, length));
        return chars.toString();
      } catch (CharacterCodingException e) {
        throw new IOException("the line at byte offset " + lineStart + " of " + file
            + " is not valid UTF-8; use MalformedInput.REPLACE to decode it anyway", e);
      }
    }

    /** Following: waits for the file to grow, reporting truncation and replacement. */
    private void awaitGrowth() throws IOException, InterruptedException {
      if (atEnd) {
        if (channel.size() < readPosition) {
          throw truncated(channel.size(), readPosition);
        }
        if (!identityOf(file).equals(identity)) {
          throw new IOException("file " + file + " was replaced while being followed (log"
              + " rotation?); the rest of the old file was read up to byte " + readPosition
              + ". Start a new collector for the new file");
        }
        Thread.sleep(options.pollInterval());
      }
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
