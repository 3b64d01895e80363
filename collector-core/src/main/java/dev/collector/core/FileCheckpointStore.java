package dev.collector.core;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * See {@link Collecting#fileStore(Path, String)}.
 *
 * <p>Thread-safety: {@link #commit} is not for concurrent use (the collector never commits
 * concurrently); {@link #load()} and {@link #close()} may run at any time from any thread.
 *
 * <p>Blocking: every method does file I/O and blocks on it; a commit forces the file and its
 * directory to disk. Nothing waits for a lock: a store already held elsewhere fails at once.
 *
 * <p>Failures: every {@link IOException} names the path it is about and says what to do. A failed
 * commit leaves the previous checkpoint in place, except when only the final directory force
 * failed: the new checkpoint is then in place and the message says so.
 */
final class FileCheckpointStore implements CheckpointStore {

  /*
   * Durability (G8): a commit writes the whole new checkpoint to a temporary file in the same
   * directory, forces it to disk, renames it atomically over the old file, then forces the
   * directory so the rename itself is durable. After a kill -9 (or a power cut, as far as the
   * file system keeps its promises) the file is either the old checkpoint or the new one,
   * never a mix.
   *
   * What a failed commit leaves: before the rename, the old checkpoint (the temporary file is
   * deleted; a failure to delete it is attached as suppressed, never in place of the cause).
   * After the rename, only the directory force can fail: the new checkpoint is in place and
   * load() returns it, and it survives a crash of the process, but a power cut may bring back
   * the old one. The exception says exactly that; both are safe restart points, because a
   * collector only commits batches that were handled.
   *
   * Temporary files (".<name>.tmp-<hex>") of commits killed mid-write are deleted when a store
   * opens, after it holds the lock: every store that writes temporary files for this checkpoint
   * holds the same lock while it does, so none of them is live. The pattern is exact, so the
   * temporary files of another checkpoint file whose name starts the same are never touched.
   *
   * One file, one lock: the path is resolved to the real file (its directory's real path, and
   * through a symbolic link at the file itself), so two names for one checkpoint file (a link,
   * "..", a bind of the directory) share one lock file and a commit replaces the link's target,
   * never the link.
   *
   * Fresh start versus lost file: load() returns null only while the file does not exist and
   * this store has neither committed nor loaded a checkpoint. A store that has (it remembers the
   * highest sequence) throws when the file or its folder is gone, naming the sequence it saw:
   * a collector never silently starts over because a file was deleted under it. To reprocess
   * deliberately, close the store, delete the file, and open a new store.
   *
   * Limits: commit refuses a checkpoint whose file would exceed MAX_FILE_BYTES (the size load()
   * accepts) and a token or identity UTF-8 cannot encode (a lone surrogate would come back as
   * '?'), before writing anything: whatever commit accepts, load reads back unchanged.
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
   * mismatch, a truncated or padded file, bytes that are not UTF-8, or another source's identity
   * is an IOException that names the file and says what is wrong. It never returns null for a
   * damaged file: that would silently restart from the beginning.
   *
   * Single writer: the store holds an exclusive FileChannel lock on "<file>.lock" from open to
   * close, and writes its holder (pid, host, time) into it, so a second store on the same file
   * (in this or another process) fails fast with a message naming the holder. The lock channel
   * is never used for I/O after locking, so an interrupt of a committing thread cannot close it
   * and drop the lock. If anything fails after the lock file was opened, the constructor closes
   * it before throwing.
   *
   * A lock file is found by name, so on its own it does not hold against a second name for the
   * checkpoint file that is not a symbolic link (a hard link: another "<name>.lock"), nor
   * against a cleanup job that deletes "<file>.lock" while it is held (the next store creates
   * and locks a new one). So the store also locks the checkpoint file itself: at open the file
   * now at the path (if it is a regular file), and at each commit the new file, locked before
   * the rename gives it the checkpoint's name; the channel stays open until the next commit or
   * close. A second store, under any name, fails on that lock. And a store remembers the file
   * key of the lock file it locked: a commit finding another file (or none) at "<file>.lock"
   * fails, writing nothing, and says so. Limits: not on Windows (its locks are mandatory and
   * would block reading and renaming; the lock file alone applies there); before the first
   * commit of a fresh start only the lock file guards; and POSIX drops a process's lock on a
   * file when any of its descriptors for that file closes, so after load() (which reads the
   * file) the checkpoint-file lock holds only inside this JVM until the next commit re-takes
   * it. The lock file remains the main guard.
   *
   * Order: commit refuses a checkpoint whose sequence is not above the highest this store
   * committed or loaded (like the in-memory store), naming both, before writing anything. A
   * store that neither loaded nor committed has nothing to compare with.
   */

  private static final String MAGIC = "collector-checkpoint 1";
  static final int MAX_FILE_BYTES = 16 << 20;
  private static final int MAX_LINK_HOPS = 40;
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

  /** One file-system step; {@link #io} names its path when it fails. */
  private interface IoStep<T> {
    T run() throws IOException;
  }

  private final Path file; // as given (absolute), for messages
  private final Path target; // the real file: its directory's real path, links followed
  private final Path directory;
  private final String name; // for messages: the path, and the real file if that differs
  private final String sourceIdentity;
  private final FileOps ops;
  private final Pattern tempName;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Path lockFile;
  private final @Nullable Object lockKey; // the identity of the lock file this store locked
  // A channel on the checkpoint file now at the path, holding an exclusive lock on it (none on
  // Windows, or before the file exists). Swapped at each commit; closed by close().
  private final AtomicReference<@Nullable FileChannel> fileLock = new AtomicReference<>();
  private volatile @Nullable Checkpoint known; // the highest checkpoint committed or loaded

  FileCheckpointStore(Path file, String sourceIdentity, FileOps ops) throws IOException {
    this.file = file.toAbsolutePath();
    this.sourceIdentity = Objects.requireNonNull(sourceIdentity, "sourceIdentity");
    this.ops = Objects.requireNonNull(ops, "ops");
    if (this.file.getParent() == null || this.file.getFileName() == null) {
      throw new IllegalArgumentException(
          "checkpoint file " + file + " has no parent directory;" + " give the path of a file");
    }
    if (encodeStrictly(sourceIdentity) == null) {
      throw new IllegalArgumentException(
          "the source identity for checkpoint file "
              + this.file
              + " is not valid Unicode (a lone surrogate?); UTF-8 cannot store it unchanged");
    }
    this.target = realFile(this.file);
    this.directory = Objects.requireNonNull(target.getParent());
    this.name =
        target.equals(this.file) ? this.file.toString() : this.file + " (which is " + target + ")";
    String fileName = String.valueOf(target.getFileName());
    this.tempName = Pattern.compile(Pattern.quote("." + fileName + ".tmp-") + "[0-9a-f]{1,16}");
    Path lockFile = directory.resolve(fileName + ".lock");
    this.lockFile = lockFile;
    FileChannel channel =
        io(
            "open the lock file",
            lockFile,
            () ->
                FileChannel.open(
                    lockFile,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.READ,
                    StandardOpenOption.WRITE));
    try {
      FileLock acquired;
      try {
        acquired = io("lock", lockFile, channel::tryLock);
      } catch (OverlappingFileLockException inThisJvm) {
        acquired = null;
      }
      if (acquired == null) {
        throw new IOException(
            "checkpoint store "
                + name
                + " is in use by "
                + readHolder(lockFile)
                + "; only one"
                + " collector may commit to a store at a time. Stop that one, or give this"
                + " collector its own checkpoint file");
      }
      this.lock = acquired;
      Object keyAfter = fileKeyOf(lockFile);
      if (keyAfter == null && !WINDOWS) {
        throw new IOException(
            "checkpoint store "
                + name
                + ": the lock file "
                + lockFile
                + " was deleted while it was being locked; open the store again");
      }
      this.lockKey = keyAfter;
      lockTheCheckpointFile();
      ProcessHandle self = ProcessHandle.current();
      String holder =
          "pid "
              + self.pid()
              + " ("
              + self.info().command().orElse("java")
              + ") since "
              + Instant.now();
      io(
          "write the holder into the lock file",
          lockFile,
          () -> {
            channel.truncate(0);
            return channel.write(ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
          });
      deleteTempFilesOfKilledCommits();
    } catch (IOException | RuntimeException | Error e) {
      try {
        channel.close(); // closing releases the lock, if it was taken
        closeFileLock();
      } catch (IOException closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
    this.lockChannel = channel;
  }

  private static final boolean WINDOWS = System.getProperty("os.name", "").startsWith("Windows");

  /** The file key of {@code path} (null if it is gone, or the file system has none). */
  private static @Nullable Object fileKeyOf(Path path) {
    try {
      return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
          .fileKey();
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * Locks the checkpoint file now at the path, if it is a regular file, and keeps that lock: a
   * second store reaching the same file under another name (a hard link), or after the lock file
   * was deleted under this one, fails on it. Not on Windows, whose locks are mandatory.
   */
  private void lockTheCheckpointFile() throws IOException {
    if (WINDOWS || !Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    FileChannel channel;
    try {
      channel = FileChannel.open(target, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (NoSuchFileException e) {
      return; // removed meanwhile: a fresh start, or load() reports it
    } catch (IOException e) {
      throw io("open", e);
    }
    FileLock acquired;
    try {
      acquired = channel.tryLock();
    } catch (OverlappingFileLockException inThisJvm) {
      acquired = null;
    } catch (IOException e) {
      closeQuietly(channel, e);
      throw io("lock", e);
    } catch (RuntimeException e) {
      closeQuietly(channel, e);
      throw e;
    }
    if (acquired == null) {
      IOException held =
          new IOException(
              "checkpoint file "
                  + name
                  + " is locked by another"
                  + " store, which reaches it under another name (a hard link) or holds a lock file "
                  + lockFile
                  + " that was deleted or replaced under it; only one collector may commit"
                  + " to a checkpoint file at a time. Stop that one, or give this collector its own"
                  + " checkpoint file (not a hard link to another one)");
      closeQuietly(channel, held);
      throw held;
    }
    FileChannel previous = fileLock.getAndSet(channel);
    if (previous != null) {
      previous.close();
    }
  }

  private static void closeQuietly(FileChannel channel, Throwable failure) {
    try {
      channel.close();
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private void closeFileLock() throws IOException {
    FileChannel held = fileLock.getAndSet(null);
    if (held != null) {
      held.close();
    }
  }

  /** The real path of {@code file}: its directory's real path, and symbolic links followed. */
  private static Path realFile(Path file) throws IOException {
    Path current = file;
    for (int hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      Path parent = Objects.requireNonNull(current.getParent());
      io("create the directory", parent, () -> Files.createDirectories(parent));
      Path real =
          io("resolve the directory", parent, parent::toRealPath)
              .resolve(Objects.requireNonNull(current.getFileName()));
      if (!Files.isSymbolicLink(real)) {
        return real;
      }
      Path link = real;
      current =
          real.resolveSibling(
                  io("read the symbolic link", link, () -> Files.readSymbolicLink(link)))
              .toAbsolutePath();
    }
    throw new IOException(
        "checkpoint file "
            + file
            + " is a chain of more than "
            + MAX_LINK_HOPS
            + " symbolic links (a loop?); point the store at a real file");
  }

  private void deleteTempFilesOfKilledCommits() throws IOException {
    DirectoryStream.Filter<Path> ours =
        p ->
            tempName.matcher(String.valueOf(p.getFileName())).matches()
                && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS);
    List<Path> leftovers = new ArrayList<>();
    try (DirectoryStream<Path> listing = Files.newDirectoryStream(directory, ours)) {
      listing.forEach(leftovers::add);
    } catch (IOException | DirectoryIteratorException e) {
      throw new IOException(
          "checkpoint store: could not list the directory "
              + directory
              + " (to delete temporary files of killed commits): "
              + e,
          e);
    }
    for (Path leftover : leftovers) {
      io(
          "delete the temporary file of a killed commit",
          leftover,
          () -> Files.deleteIfExists(leftover));
    }
  }

  private static <T> T io(String what, Path path, IoStep<T> step) throws IOException {
    try {
      return step.run();
    } catch (IOException e) {
      throw new IOException("checkpoint store: could not " + what + " " + path + ": " + e, e);
    }
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
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(target, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      Checkpoint seen = known;
      if (seen == null) {
        return null; // a fresh start: nothing was ever committed here
      }
      throw new IOException(
          "checkpoint file "
              + name
              + " (or its folder) has disappeared,"
              + " but this store committed or loaded a checkpoint at sequence "
              + seen.sequence()
              + "; without it the collector would start over from the beginning. Restore the"
              + " file; to reprocess the source from its start deliberately, close this store,"
              + " and open a new one",
          e);
    } catch (IOException e) {
      throw io("read the attributes of", e);
    }
    if (!attributes.isRegularFile()) {
      throw corrupt("it is not a regular file (a directory?)");
    }
    if (attributes.size() > MAX_FILE_BYTES) {
      throw corrupt(
          "it is "
              + attributes.size()
              + " bytes, larger than any checkpoint this"
              + " store writes");
    }
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(target);
    } catch (IOException e) {
      throw io("read", e);
    }
    Checkpoint checkpoint = parse(bytes);
    remember(checkpoint);
    return checkpoint;
  }

  private void remember(Checkpoint checkpoint) {
    Checkpoint seen = known;
    if (seen == null || checkpoint.sequence() > seen.sequence()) {
      known = checkpoint;
    }
  }

  private IOException io(String what, IOException e) {
    return new IOException("could not " + what + " checkpoint file " + name + ": " + e, e);
  }

  private Checkpoint parse(byte[] bytes) throws IOException {
    String text = decodeStrictly(bytes, "it is not UTF-8 text");
    if (!text.startsWith(MAGIC + "\n")) {
      throw corrupt(
          "it does not start with \""
              + MAGIC
              + "\" (not a checkpoint file, or a"
              + " format this version does not read)");
    }
    boolean terminated = text.endsWith("\n");
    String[] lines = (terminated ? text.substring(0, text.length() - 1) : text).split("\n", -1);
    if (lines.length != 5 || !terminated) {
      throw corrupt(
          "it has "
              + lines.length
              + " lines"
              + (terminated ? "" : ", the" + " last one unterminated")
              + "; a checkpoint has exactly 5 (truncated or torn?)");
    }
    String crcLine = lines[4];
    int crcStart = text.length() - crcLine.length() - 1;
    String expectedCrc = crc(text.substring(0, crcStart).getBytes(StandardCharsets.UTF_8));
    if (!crcLine.equals("crc32c " + expectedCrc)) {
      throw corrupt(
          "its checksum line is \""
              + crcLine
              + "\" but the content sums to "
              + expectedCrc
              + " (damaged or edited)");
    }
    String source = decode(field(lines[1], "source"), "source");
    if (!source.equals(sourceIdentity)) {
      throw new IOException(
          "checkpoint file "
              + name
              + " belongs to source \""
              + source
              + "\", but this"
              + " collector reads \""
              + sourceIdentity
              + "\"; point it at that source's own"
              + " checkpoint file. It never starts over from the beginning on its own");
    }
    long sequence;
    try {
      sequence = Long.parseLong(field(lines[2], "sequence"));
    } catch (NumberFormatException e) {
      throw corrupt("its sequence is not a number");
    }
    if (sequence < 0) {
      throw corrupt("its sequence is negative");
    }
    return new Checkpoint(sequence, decode(field(lines[3], "token"), "token"));
  }

  private String field(String line, String field) throws IOException {
    if (!line.startsWith(field + " ")) {
      throw corrupt("expected a \"" + field + "\" line, found \"" + line + "\"");
    }
    return line.substring(field.length() + 1);
  }

  private String decode(String value, String field) throws IOException {
    byte[] bytes;
    try {
      bytes = B64D.decode(value);
    } catch (IllegalArgumentException e) {
      throw corrupt("its " + field + " is not base64url");
    }
    return decodeStrictly(bytes, "its " + field + " is not UTF-8");
  }

  private String decodeStrictly(byte[] bytes, String why) throws IOException {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw corrupt(why);
    }
  }

  /** UTF-8 of {@code text}, or null if it cannot be encoded unchanged (a lone surrogate). */
  private static byte @Nullable [] encodeStrictly(String text) {
    try {
      ByteBuffer encoded =
          StandardCharsets.UTF_8
              .newEncoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .encode(CharBuffer.wrap(text));
      byte[] bytes = new byte[encoded.remaining()];
      encoded.get(bytes);
      return bytes;
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  private IOException corrupt(String why) {
    return new IOException(
        "checkpoint file "
            + name
            + " is not a valid checkpoint: "
            + why
            + ". The collector"
            + " never starts over from the beginning on its own: restore the file, or delete it"
            + " deliberately to reprocess the source from its start");
  }

  static String format(String sourceIdentity, Checkpoint checkpoint) {
    String body =
        MAGIC
            + "\n"
            + "source "
            + B64.encodeToString(sourceIdentity.getBytes(StandardCharsets.UTF_8))
            + "\n"
            + "sequence "
            + checkpoint.sequence()
            + "\n"
            + "token "
            + B64.encodeToString(checkpoint.resumeToken().getBytes(StandardCharsets.UTF_8))
            + "\n";
    return body + "crc32c " + crc(body.getBytes(StandardCharsets.UTF_8)) + "\n";
  }

  private static String crc(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return HexFormat.of().toHexDigits((int) crc.getValue());
  }

  private String committedSoFar() {
    Checkpoint seen = known;
    return seen == null
        ? "nothing is committed (a fresh start)"
        : "sequence " + seen.sequence() + " stays committed";
  }

  @Override
  public void commit(Checkpoint checkpoint) throws IOException {
    if (!lock.isValid()) {
      throw new IOException(
          "checkpoint store " + name + " is closed; open a new store to" + " commit to it");
    }
    String refused =
        "refusing to commit sequence "
            + checkpoint.sequence()
            + " to checkpoint"
            + " file "
            + name
            + ": ";
    Checkpoint seen = known;
    if (seen != null && checkpoint.sequence() <= seen.sequence()) {
      throw new IOException(
          refused
              + "this store already committed or loaded sequence "
              + seen.sequence()
              + ", and a checkpoint must move forward. Nothing was written; "
              + committedSoFar()
              + ". Commit a higher sequence");
    }
    if (encodeStrictly(checkpoint.resumeToken()) == null) {
      throw new IOException(
          refused
              + "its resume token is not valid Unicode (a lone"
              + " surrogate?), so it would not load back unchanged. Nothing was written; "
              + committedSoFar()
              + ". This is a bug of the source that made the token");
    }
    if (lockKey != null && !lockKey.equals(fileKeyOf(lockFile))) {
      throw new IOException(
          refused
              + "its lock file "
              + lockFile
              + " was deleted or replaced"
              + " while this store held it (a cleanup job?), so another store may have opened the"
              + " same checkpoint. Nothing was written; "
              + committedSoFar()
              + ". Make sure no"
              + " other collector uses this checkpoint file, keep cleanup jobs away from "
              + lockFile
              + ", and open the store again");
    }
    byte[] bytes = format(sourceIdentity, checkpoint).getBytes(StandardCharsets.UTF_8);
    if (bytes.length > MAX_FILE_BYTES) {
      throw new IOException(
          refused
              + "its resume token of "
              + checkpoint.resumeToken().length()
              + " characters makes the file "
              + bytes.length
              + " bytes, more than the "
              + MAX_FILE_BYTES
              + " this store loads. Nothing was"
              + " written; "
              + committedSoFar()
              + ". A resume token should be a position, not"
              + " data: make the source's tokens smaller");
    }
    Path temp =
        directory.resolve(
            "."
                + target.getFileName()
                + ".tmp-"
                + String.format(Locale.ROOT, "%016x", ThreadLocalRandom.current().nextLong()));
    FileChannel out =
        io(
            "create the temporary file",
            temp,
            () -> FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    try {
      if (!WINDOWS) {
        // the new file is locked before it takes the checkpoint's name, and stays locked
        io("lock the temporary file", temp, () -> Objects.requireNonNull(out.tryLock()));
      }
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        io("write the temporary file", temp, () -> out.write(buffer));
      }
      io(
          "force to disk the temporary file",
          temp,
          () -> {
            ops.force(out);
            return temp;
          });
    } catch (IOException | RuntimeException | Error e) {
      closeQuietly(out, e);
      deleteAfterFailure(temp, e);
      throw e;
    }
    try {
      ops.moveAtomically(temp, target);
    } catch (AtomicMoveNotSupportedException e) {
      IOException failure =
          new IOException(
              "the file system of "
                  + directory
                  + " cannot rename atomically; the file store of "
                  + name
                  + " needs that to survive a crash mid-commit. Nothing was committed; "
                  + committedSoFar(),
              e);
      closeQuietly(out, failure);
      deleteAfterFailure(temp, failure);
      throw failure;
    } catch (IOException e) {
      IOException failure =
          new IOException(
              "could not rename "
                  + temp
                  + " over checkpoint"
                  + " file "
                  + name
                  + " to commit sequence "
                  + checkpoint.sequence()
                  + ": "
                  + e
                  + ". Nothing was committed; "
                  + committedSoFar(),
              e);
      closeQuietly(out, failure);
      deleteAfterFailure(temp, failure);
      throw failure;
    } catch (RuntimeException | Error e) {
      closeQuietly(out, e);
      deleteAfterFailure(temp, e);
      throw e;
    }
    FileChannel replaced = fileLock.getAndSet(WINDOWS ? null : out);
    try {
      if (replaced != null) {
        replaced.close(); // the lock of the file the rename replaced
      }
      if (WINDOWS) {
        out.close();
      }
    } catch (IOException e) {
      // a channel on a file no longer at the path: nothing depends on closing it cleanly
    }
    Checkpoint previous = known;
    remember(checkpoint);
    try {
      ops.forceDirectory(directory);
    } catch (IOException e) {
      throw new IOException(
          "checkpoint file "
              + name
              + " now holds sequence "
              + checkpoint.sequence()
              + " (load() returns it, and it survives a crash of this"
              + " process), but forcing its directory "
              + directory
              + " to disk failed ("
              + e
              + "), so after a power failure or an operating-system crash the file may hold "
              + (previous == null
                  ? "no checkpoint (a fresh start)"
                  : "sequence " + previous.sequence())
              + " again. Both are safe restart points;"
              + " check the disk, a later commit forces the directory again",
          e);
    }
  }

  /** Deletes the temporary file after {@code failure}; a failure to do so never hides it. */
  private static void deleteAfterFailure(Path temp, Throwable failure) {
    try {
      Files.deleteIfExists(temp);
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      closeFileLock();
      if (lock.isValid()) {
        lock.release();
      }
      lockChannel.close();
    } catch (IOException e) {
      throw io("release the lock of", e);
    }
  }

  @Override
  public String toString() {
    return "FileCheckpointStore[" + name + "]";
  }
}
