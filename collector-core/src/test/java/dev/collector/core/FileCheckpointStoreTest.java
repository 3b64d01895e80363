package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
      assertTrue(e.getMessage().contains("\"a.log\"") && e.getMessage().contains("\"b.log\""),
          e.getMessage());
    }
  }

  @Test
  void openCollector_onForeignFile_throwsCheckpointExceptionNotAFreshStart() throws Exception {
    Files.writeString(file(), "offset=12\n");
    try (CheckpointStore store = Collecting.fileStore(file(), "orders.log")) {
      var e = assertThrows(CheckpointException.class,
          () -> Collecting.open(Collecting.listSource(List.of()), store,
              CollectorOptions.defaults()));
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
            calls.add("move " + from.getFileName().toString().startsWith(".orders.checkpoint.tmp-")
                + " -> " + to.getFileName());
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
    assertEquals(
        List.of("force file", "move true -> orders.checkpoint", "force dir true"), calls);
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
        new FileCheckpointStore.FileOps() {
          @Override
          public void force(FileChannel channel) throws IOException {
            channel.force(true);
          }

          @Override
          public void moveAtomically(Path from, Path to) throws IOException {
            throw new IOException("disk full");
          }

          @Override
          public void forceDirectory(Path directory) {}
        };
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
}
