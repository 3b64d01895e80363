package dev.collector.core;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * See {@link Collecting#fileStore(Path, String)}. Not thread-safe for concurrent commits (the
 * collector never commits concurrently); {@link #load()} may run at any time.
 */
final class FileCheckpointStore implements CheckpointStore {

  /*
   * Durability (G8): a commit writes the whole new checkpoint to a temporary file in the same
   * directory, forces it to disk, renames it atomically over the old file, then forces the
   * directory so the rename itself is durable. After a kill -9 (or a power cut, as far as the
   * file system keeps its promises) the file is either the old checkpoint or the new one,
   * never a mix. A leftover temporary file from a commit that died is ignored and replaced.
   *
   * Format, UTF-8 text with LF line ends, so an operator can read it:
   *
   *   collector-checkpoint 1
   *   source <base64url of the source identity>
   *   sequence <decimal>
   *   token <base64url of the resume token>
   *   crc32c <8 hex digits: CRC32C of every byte above, newlines included>
   *
   * load() accepts exactly this and nothing else: a wrong magic line or version, a checksum
   * mismatch, a truncated or padded file, or another source's identity is an IOException that
   * says what is wrong. It never returns null for a damaged file: that would silently restart
   * from the beginning.
   *
   * Single writer: the store holds an exclusive FileChannel lock on "<file>.lock" from open to
   * close, and writes its holder (pid, host, time) into it, so a second store on the same file
   * (in this or another process) fails fast with a message naming the holder. The lock channel
   * is never used for I/O after locking, so an interrupt of a committing thread cannot close it
   * and drop the lock.
   */

  private static final String MAGIC = "collector-checkpoint 1";
  private static final int MAX_FILE_BYTES = 16 << 20;
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  /** The file-system operations whose order makes a commit durable; replaceable in tests. */
  interface FileOps {
    void force(FileChannel channel) throws IOException;

    void moveAtomically(Path from, Path to) throws IOException;

    void forceDirectory(Path directory) throws IOException;
  }

  static final FileOps DEFAULT_OPS =
      new FileOps() {
        @Override
        public void force(FileChannel channel) throws IOException {
          channel.force(true);
        }

        @Override
        public void moveAtomically(Path from, Path to) throws IOException {
          Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        @Override
        public void forceDirectory(Path directory) throws IOException {
          try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
          } catch (IOException e) {
            // Windows cannot open a directory as a channel; its rename is durable on its own.
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
              throw e;
            }
          }
        }
      };

  private final Path file;
  private final Path directory;
  private final String sourceIdentity;
  private final FileOps ops;
  private final FileChannel lockChannel;
  private final FileLock lock;

  FileCheckpointStore(Path file, String sourceIdentity, FileOps ops) throws IOException {
    this.file = file.toAbsolutePath();
    Path parent = this.file.getParent();
    this.directory = Objects.requireNonNull(parent, "file has no parent directory");
    this.sourceIdentity = Objects.requireNonNull(sourceIdentity, "sourceIdentity");
    this.ops = ops;
    Files.createDirectories(directory);
    Path lockFile = directory.resolve(this.file.getFileName() + ".lock");
    FileChannel channel =
        FileChannel.open(
            lockFile,
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    FileLock acquired;
    try {
      acquired = channel.tryLock();
    } catch (OverlappingFileLockException inThisJvm) {
      acquired = null;
    }
    if (acquired == null) {
      String holder = readHolder(lockFile);
      channel.close();
      throw new IOException(
          "checkpoint store " + this.file + " is in use by " + holder + "; only one collector"
              + " may commit to a store at a time. Stop that one, or give this collector its"
              + " own checkpoint file");
    }
    this.lockChannel = channel;
    this.lock = acquired;
    ProcessHandle self = ProcessHandle.current();
    String holder =
        "pid " + self.pid() + " (" + self.info().command().orElse("java") + ") since "
            + Instant.now();
    channel.truncate(0);
    channel.write(ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
  }

  private static String readHolder(Path lockFile) {
    try {
      String text = Files.readString(lockFile, StandardCharsets.UTF_8).strip();
      return text.isEmpty() ? "another collector" : text;
    } catch (IOException e) {
      return "another collector";
    }
  }

  @Override
  public @Nullable Checkpoint load() throws IOException {
    if (!Files.exists(file)) {
      return null;
    }
    long size = Files.size(file);
    if (size > MAX_FILE_BYTES) {
      throw corrupt("it is " + size + " bytes, larger than any checkpoint this store writes");
    }
    return parse(Files.readAllBytes(file));
  }

  private Checkpoint parse(byte[] bytes) throws IOException {
    String text = new String(bytes, StandardCharsets.UTF_8);
    if (!text.startsWith(MAGIC + "\n")) {
      throw corrupt("it does not start with \"" + MAGIC + "\" (not a checkpoint file, or a"
          + " format this version does not read)");
    }
    List<String> lines = text.lines().toList();
    if (lines.size() != 5 || !text.endsWith("\n")) {
      throw corrupt("it has " + lines.size() + " lines" + (text.endsWith("\n") ? "" : ", the"
          + " last one unterminated") + "; a checkpoint has exactly 5 (truncated or torn?)");
    }
    String crcLine = lines.get(4);
    int crcStart = text.length() - crcLine.length() - 1;
    String expectedCrc = crc(text.substring(0, crcStart).getBytes(StandardCharsets.UTF_8));
    if (!crcLine.equals("crc32c " + expectedCrc)) {
      throw corrupt("its checksum line is \"" + crcLine + "\" but the content sums to "
          + expectedCrc + " (damaged or edited)");
    }
    String source = decode(field(lines.get(1), "source"), "source");
    if (!source.equals(sourceIdentity)) {
      throw new IOException(
          "checkpoint file " + file + " belongs to source \"" + source + "\", but this"
              + " collector reads \"" + sourceIdentity + "\"; point it at that source's own"
              + " checkpoint file. It never starts over from the beginning on its own");
    }
    long sequence;
    try {
      sequence = Long.parseLong(field(lines.get(2), "sequence"));
    } catch (NumberFormatException e) {
      throw corrupt("its sequence is not a number");
    }
    if (sequence < 0) {
      throw corrupt("its sequence is negative");
    }
    return new Checkpoint(sequence, decode(field(lines.get(3), "token"), "token"));
  }

  private String field(String line, String name) throws IOException {
    if (!line.startsWith(name + " ")) {
      throw corrupt("expected a \"" + name + "\" line, found \"" + line + "\"");
    }
    return line.substring(name.length() + 1);
  }

  private String decode(String value, String name) throws IOException {
    try {
      return new String(B64D.decode(value), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw corrupt("its " + name + " is not base64url");
    }
  }

  private IOException corrupt(String why) {
    return new IOException(
        "checkpoint file " + file + " is not a valid checkpoint: " + why + ". The collector"
            + " never starts over from the beginning on its own: restore the file, or delete it"
            + " deliberately to reprocess the source from its start");
  }

  static String format(String sourceIdentity, Checkpoint checkpoint) {
    String body =
        MAGIC + "\n"
            + "source " + B64.encodeToString(sourceIdentity.getBytes(StandardCharsets.UTF_8))
            + "\n"
            + "sequence " + checkpoint.sequence() + "\n"
            + "token " + B64.encodeToString(
                checkpoint.resumeToken().getBytes(StandardCharsets.UTF_8)) + "\n";
    return body + "crc32c " + crc(body.getBytes(StandardCharsets.UTF_8)) + "\n";
  }

  private static String crc(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return HexFormat.of().toHexDigits((int) crc.getValue());
  }

  @Override
  public void commit(Checkpoint checkpoint) throws IOException {
    if (!lock.isValid()) {
      throw new IOException("checkpoint store " + file + " is closed");
    }
    byte[] bytes = format(sourceIdentity, checkpoint).getBytes(StandardCharsets.UTF_8);
    Path temp =
        directory.resolve(
            "." + file.getFileName() + ".tmp-" + Long.toHexString(
                ThreadLocalRandom.current().nextLong()));
    try {
      try (FileChannel out =
          FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
          out.write(buffer);
        }
        ops.force(out);
      }
      ops.moveAtomically(temp, file);
      ops.forceDirectory(directory);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(
          "the file system of " + directory + " cannot rename atomically; the file store needs"
              + " that to survive a crash mid-commit", e);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      if (lock.isValid()) {
        lock.release();
      }
    } finally {
      lockChannel.close();
    }
  }

  @Override
  public String toString() {
    return "FileCheckpointStore[" + file + "]";
  }
}
