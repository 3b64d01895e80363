package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.CollectorOptions;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** G8: the file store's format, atomic replace, damage detection and single-writer lock. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class FileCheckpointStoreTest {

  @TempDir Path dir;

  private Path file() {
    return dir.resolve("orders.checkpoint");
  }

  /** A step of {@link FileCheckpointStore.FileOps} a test replaces. */
  private interface Step {
    void run(Path from, Path to) throws IOException;
  }

  /** The default file operations, but for the rename and the directory force. */
  private static FileCheckpointStore.FileOps ops(Step move, Step forceDirectory) {
    return new FileCheckpointStore.FileOps() {
      @Override
      public void force(FileChannel channel) throws IOException {
        FileCheckpointStore.DEFAULT_OPS.force(channel);
      }

      @Override
      public void moveAtomically(Path from, Path to) throws IOException {
        move.run(from, to);
      }

      @Override
      public void forceDirectory(Path directory) throws IOException {
        forceDirectory.run(directory, directory);
      }
    };
  }

  private static final Step MOVE = FileCheckpointStore.DEFAULT_OPS::moveAtomically;
  private static final Step NOTHING = (from, to) -> {};

  @Test
  void commit_thenReopen_loadsTheSameCheckpoint() throws Exception {
    var cp = new Checkpoint(42, "offset=1024 \u00e9\n{weird}");
    try (CheckpointStore store = Collecting.fileStore(file(), "orders.log")) {
      assertNull(store.load());
      store.commit(new Checkpoint(1, "a"));
      store.commit(cp);
      assertEquals(cp, store.load());
    }
    try (CheckpointStore again = Collecting.fileStore(file(), "orders.log")) {
      assertEquals(cp, again.load());
    }
  }

  @Test
  void load_everyTruncationOfAValidFile_failsAndNeverReturnsAnotherCheckpoint() throws Exception {
    byte[] valid =
        FileCheckpointStore.format("orders.log", new Checkpoint(7, "t7"))
            .getBytes(StandardCharsets.UTF_8);
    try (CheckpointStore store = Collecting.fileStore(file(), "orders.log")) {
      for (int length = 0; length < valid.length; length++) {
        Files.write(file(), Arrays.copyOf(valid, length));
        int cut = length;
        var e = assertThrows(IOException.class, store::load, "prefix of " + cut + " bytes");
        assertTrue(e.getMessage().contains("never starts over"), e.getMessage());
      }
      Files.write(file(), valid);
      assertEquals(new Checkpoint(7, "t7"), store.load());
    }
  }

  @Test
  void load_anyFlippedByte_failsOnTheChecksumOrFormat() throws Exception {
    byte[] valid =
        FileCheckpointStore.format("orders.log", new Checkpoint(123456, "token"))
            .getBytes(StandardCharsets.UTF_8);
    try (CheckpointStore store = Collecting.fileStore(file(), "orders.log")) {
      for (int i = 0; i < valid.length; i++) {
        byte[] damaged = valid.clone();
        damaged[i] ^= 0x01;
        Files.write(file(), damaged);
        assertThrows(IOException.class, store::load, "flip at byte " + i);
      }
    }
  }

  @Test
  void load_fileOfAnotherSource_failsNamingBoth() throws Exception {
    try (CheckpointStore a = Collecting.fileStore(file(), "a.log")) {
      a.commit(new Checkpoint(3, "x"));
    }
    try (CheckpointStore b = Collecting.fileStore(file(), "b.log")) {
      var e = assertThrows(IOException.class, b::load);
      assertTrue(
          e.getMessage().contains("\"a.log\"") && e.getMessage().contains("\"b.log\""),
          e.getMessage());
    }
  }

  @Test
  void openCollector_onForeignFile_throwsCheckpointExceptionNotAFreshStart() throws Exception {
    Files.writeString(file(), "offset=12\n");
    try (CheckpointStore store = Collecting.fileStore(file(), "orders.log")) {
      var e =
          assertThrows(
              CheckpointException.class,
              () ->
                  Collecting.open(
                      Collecting.listSource(List.of()), store, CollectorOptions.defaults()));
      assertTrue(e.getMessage().contains("not a valid checkpoint"), e.getMessage());
    }
  }

  @Test
  void secondStoreOnSameFile_failsNamingTheHolder_untilTheFirstCloses() throws Exception {
    CheckpointStore first = Collecting.fileStore(file(), "orders.log");
    var e = assertThrows(IOException.class, () -> Collecting.fileStore(file(), "orders.log"));
    assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
    first.close();
    Collecting.fileStore(file(), "orders.log").close();
  }

  @Test
  void commit_forcesTempFileThenRenamesThenForcesTheDirectory() throws Exception {
    List<String> calls = new CopyOnWriteArrayList<>();
    var recording =
        new FileCheckpointStore.FileOps() {
          @Override
          public void force(FileChannel channel) throws IOException {
            calls.add("force file");
            FileCheckpointStore.DEFAULT_OPS.force(channel);
          }

          @Override
          public void moveAtomically(Path from, Path to) throws IOException {
            calls.add(
                "move "
                    + from.getFileName().toString().startsWith(".orders.checkpoint.tmp-")
                    + " -> "
                    + to.getFileName());
            FileCheckpointStore.DEFAULT_OPS.moveAtomically(from, to);
          }

          @Override
          public void forceDirectory(Path directory) throws IOException {
            calls.add("force dir " + directory.equals(dir.toAbsolutePath()));
            FileCheckpointStore.DEFAULT_OPS.forceDirectory(directory);
          }
        };
    try (var store = new FileCheckpointStore(file(), "orders.log", recording)) {
      store.commit(new Checkpoint(1, "t"));
    }
    assertEquals(List.of("force file", "move true -> orders.checkpoint", "force dir true"), calls);
    try (var listing = Files.list(dir)) {
      assertEquals(
          List.of("orders.checkpoint", "orders.checkpoint.lock"),
          listing.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temporary file left behind");
    }
  }

  @Test
  void commit_failedRename_leavesTheOldCheckpointAndNoTempFile() throws Exception {
    var failingMove =
        ops(
            (from, to) -> {
              throw new IOException("disk full");
            },
            NOTHING);
    try (CheckpointStore ok = Collecting.fileStore(file(), "s")) {
      ok.commit(new Checkpoint(5, "five"));
    }
    try (var store = new FileCheckpointStore(file(), "s", failingMove)) {
      assertThrows(IOException.class, () -> store.commit(new Checkpoint(6, "six")));
      assertEquals(new Checkpoint(5, "five"), store.load());
    }
    try (var listing = Files.list(dir)) {
      assertEquals(2, listing.count());
    }
  }

  @Test
  void commit_afterClose_throws() throws Exception {
    CheckpointStore store = Collecting.fileStore(file(), "s");
    store.close();
    assertThrows(IOException.class, () -> store.commit(new Checkpoint(1, "t")));
  }

  private List<String> listing() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static void assertNames(Path path, Throwable e) {
    assertTrue(
        String.valueOf(e.getMessage()).contains(path.toAbsolutePath().toString()),
        "the message names " + path + ": " + e.getMessage());
  }

  /** Case 1: what commit accepts, load reads back; a checkpoint too large is refused first. */
  @Test
  void commit_tokenTooLargeForLoad_isRefusedNamingTheFile_andNothingIsWritten() throws Exception {
    String huge = "x".repeat(13 << 20); // 13 MiB: about 17.3 MiB as base64
    try (CheckpointStore store = Collecting.fileStore(file(), "s")) {
      store.commit(new Checkpoint(1, "one"));
      var e = assertThrows(IOException.class, () -> store.commit(new Checkpoint(2, huge)));
      assertNames(file(), e);
      assertTrue(e.getMessage().contains("sequence 2"), e.getMessage());
      assertEquals(new Checkpoint(1, "one"), store.load(), "the old checkpoint stays");
    }
    assertEquals(List.of("orders.checkpoint", "orders.checkpoint.lock"), listing());
    // the largest token it accepts is read back
    String largest = "y".repeat(11 << 20);
    try (CheckpointStore store = Collecting.fileStore(file(), "s")) {
      store.commit(new Checkpoint(3, largest));
      assertEquals(new Checkpoint(3, largest), store.load());
    }
  }

  /** Case 2: every I/O error names the path it was about. */
  @Test
  void directoryInPlaceOfTheFile_loadAndCommitErrorsNameThePath() throws Exception {
    Files.createDirectory(file());
    Files.writeString(file().resolve("inside"), "x");
    try (CheckpointStore store = Collecting.fileStore(file(), "s")) {
      assertNames(file(), assertThrows(IOException.class, store::load));
      assertNames(
          file(), assertThrows(IOException.class, () -> store.commit(new Checkpoint(1, "t"))));
    }
  }

  /** Case 3: temporary files of commits killed mid-write are removed when a store opens. */
  @Test
  void open_removesTempFilesOfKilledCommits_butNoOtherFile() throws Exception {
    Files.writeString(dir.resolve(".orders.checkpoint.tmp-1f2e3d4c5b6a7988"), "torn");
    Files.writeString(dir.resolve(".orders.checkpoint.tmp-abc"), "torn, older name");
    // not ours: another store's file whose name starts the same, and an unrelated file
    Files.writeString(dir.resolve(".orders.checkpoint.tmp-x.tmp-0123456789abcdef"), "other");
    Files.writeString(dir.resolve("orders.checkpoint.tmp-12"), "a user's file");
    try (CheckpointStore store = Collecting.fileStore(file(), "s")) {
      assertEquals(
          List.of(
              ".orders.checkpoint.tmp-x.tmp-0123456789abcdef",
              "orders.checkpoint.lock",
              "orders.checkpoint.tmp-12"),
          listing());
      store.commit(new Checkpoint(1, "t"));
    }
  }

  /** Case 4: the rename happened, the directory fsync failed: the error says what is durable. */
  @Test
  void commit_directoryForceFailsAfterRename_errorSaysTheNewCheckpointIsInPlace() throws Exception {
    var failingDirForce =
        ops(
            MOVE,
            (directory, same) -> {
              throw new IOException("EIO on fsync");
            });
    try (var store = new FileCheckpointStore(file(), "s", failingDirForce)) {
      var e = assertThrows(IOException.class, () -> store.commit(new Checkpoint(6, "six")));
      assertNames(file(), e);
      assertEquals("EIO on fsync", e.getCause().getMessage(), "the original cause is kept");
      assertTrue(
          e.getMessage().contains("sequence 6") && e.getMessage().contains("load()"),
          e.getMessage());
      assertEquals(new Checkpoint(6, "six"), store.load());
    }
  }

  /** Case 4: cleaning up after a failed rename never hides why the rename failed. */
  @Test
  void commit_renameFailsAndTempCannotBeDeleted_theRenameFailureIsReported() throws Exception {
    var failingMove =
        ops(
            (from, to) -> {
              Files.delete(from); // the temp file becomes something deleteIfExists cannot remove
              Files.createDirectory(from);
              Files.writeString(from.resolve("blocker"), "x");
              throw new IOException("disk full");
            },
            NOTHING);
    try (var store = new FileCheckpointStore(file(), "s", failingMove)) {
      var e = assertThrows(IOException.class, () -> store.commit(new Checkpoint(6, "six")));
      Throwable disk = e;
      while (disk != null && !"disk full".equals(disk.getMessage())) {
        disk = disk.getCause();
      }
      assertTrue(disk != null, "the rename's failure is the reported one: " + e);
      assertNames(file(), e);
      assertNull(store.load());
    }
  }

  /** Case 5: a store that committed never answers "nothing committed" afterwards. */
  @Test
  void checkpointFileDeletedAfterCommit_loadFailsLoudly_collectorDoesNotStartOver()
      throws Exception {
    try (CheckpointStore store = Collecting.fileStore(file(), "s")) {
      store.commit(new Checkpoint(4, "four"));
      Files.delete(file());
      var e = assertThrows(IOException.class, store::load);
      assertNames(file(), e);
      assertTrue(e.getMessage().contains("sequence 4"), e.getMessage());
      var open =
          assertThrows(
              CheckpointException.class,
              () ->
                  Collecting.open(
                      Collecting.listSource(List.of(List.of("a"))),
                      store,
                      CollectorOptions.defaults()));
      assertNames(file(), open);
    }
  }

  /** Case 5: the same when the whole folder disappears, and for a store that only loaded. */
  @Test
  void checkpointFolderDeletedAfterLoad_loadFailsLoudly() throws Exception {
    Path sub = dir.resolve("sub");
    Path cp = sub.resolve("orders.checkpoint");
    try (CheckpointStore writer = Collecting.fileStore(cp, "s")) {
      writer.commit(new Checkpoint(9, "nine"));
    }
    try (CheckpointStore store = Collecting.fileStore(cp, "s")) {
      assertEquals(new Checkpoint(9, "nine"), store.load());
      try (Stream<Path> files = Files.list(sub)) {
        for (Path p : files.toList()) {
          Files.delete(p);
        }
      }
      Files.delete(sub);
      var e = assertThrows(IOException.class, store::load);
      assertNames(cp, e);
    }
  }

  /** Case 6: nothing leaks when the constructor fails after opening the lock file. */
  @Test
  void constructorFailsAfterOpeningTheLockFile_closesIt() throws Exception {
    Path fds = Path.of("/proc/self/fd");
    assumeTrue(Files.isDirectory(fds), "needs /proc/self/fd (Linux)");
    Path lock = dir.resolve("orders.checkpoint.lock");
    Process mkfifo = new ProcessBuilder("mkfifo", lock.toString()).start();
    assumeTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0, "mkfifo");
    // a FIFO opens and locks, but cannot be truncated: the constructor fails after opening it
    var e = assertThrows(IOException.class, () -> Collecting.fileStore(file(), "s"));
    try (Stream<Path> open = Files.list(fds)) {
      List<Path> leaked =
          open.filter(
                  fd -> {
                    try {
                      return Files.readSymbolicLink(fd).equals(lock.toAbsolutePath());
                    } catch (IOException gone) {
                      return false;
                    }
                  })
              .toList();
      assertEquals(List.of(), leaked, "file descriptors still open on " + lock);
    }
    assertNames(lock, e);
  }

  /** Two names for one file (a symbolic link) are one store: the second fails on the lock. */
  @Test
  void secondStoreThroughASymlink_failsOnTheLock_andCommitsKeepTheLink() throws Exception {
    Path link = dir.resolve("alias.checkpoint");
    try (CheckpointStore first = Collecting.fileStore(file(), "s")) {
      first.commit(new Checkpoint(1, "one"));
      Files.createSymbolicLink(link, file());
      var e = assertThrows(IOException.class, () -> Collecting.fileStore(link, "s"));
      assertTrue(e.getMessage().contains("in use"), e.getMessage());
    }
    try (CheckpointStore viaLink = Collecting.fileStore(link, "s")) {
      assertEquals(new Checkpoint(1, "one"), viaLink.load());
      viaLink.commit(new Checkpoint(2, "two"));
    }
    assertTrue(Files.isSymbolicLink(link), "the commit replaced the link's target, not the link");
    try (CheckpointStore direct = Collecting.fileStore(file(), "s")) {
      assertEquals(new Checkpoint(2, "two"), direct.load());
    }
  }

  /** A token that UTF-8 cannot encode (a lone surrogate) would load as another token. */
  @Test
  void commit_tokenWithUnpairedSurrogate_isRefusedInsteadOfChanged() throws Exception {
    try (CheckpointStore store = Collecting.fileStore(file(), "s")) {
      var e =
          assertThrows(
              IOException.class, () -> store.commit(new Checkpoint(1, "bad \uD800 token")));
      assertNames(file(), e);
      assertNull(store.load());
    }
  }
}
