package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Properties of the file store: whatever commit accepts, load returns unchanged, in this store and
 * in the next; any change to the file's bytes is an error naming the file, never another
 * checkpoint. jqwik prints each property's seed. 200 tries each, 1000 with {@code CI} set.
 */
class FileCheckpointStoreProperties {

  private static Path dir;

  @BeforeContainer
  static void createDir() throws IOException {
    dir = Files.createTempDirectory("store-properties");
  }

  @AfterContainer
  static void deleteDir() throws IOException {
    deleteContents(dir);
    Files.delete(dir);
  }

  private static void clean() throws IOException {
    deleteContents(dir);
  }

  /** Deletes the files in {@code dir} (not recursively); the properties' dirs are flat. */
  static void deleteContents(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
  }

  /** Any text UTF-8 can hold: ASCII, accents, CJK, emoji (surrogate pairs), controls. */
  @Provide
  Arbitrary<String> texts() {
    Arbitrary<Integer> codePoint =
        Arbitraries.frequencyOf(
            Tuple.of(5, Arbitraries.integers().between(0, 0x7f)),
            Tuple.of(2, Arbitraries.integers().between(0x80, 0x7ff)),
            Tuple.of(2, Arbitraries.integers().between(0x800, 0xd7ff)),
            Tuple.of(1, Arbitraries.integers().between(0xe000, 0xffff)),
            Tuple.of(1, Arbitraries.integers().between(0x10000, 0x10ffff)));
    Arbitrary<String> small =
        codePoint
            .list()
            .ofMaxSize(40)
            .map(
                cps -> {
                  StringBuilder s = new StringBuilder();
                  cps.forEach(s::appendCodePoint);
                  return s.toString();
                });
    Arbitrary<String> large =
        Arbitraries.integers().between(1_000, 200_000).map(n -> "\u00e9t\u00e9 ".repeat(n / 4));
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just("")), Tuple.of(12, small), Tuple.of(1, large));
  }

  @Provide
  Arbitrary<Checkpoint> checkpoints() {
    return Combinators.combine(Arbitraries.longs().between(0, Long.MAX_VALUE), texts())
        .as(Checkpoint::new);
  }

  @Property
  void commitThenLoad_roundTrips_inThisStoreAndTheNext(
      @ForAll("texts") String identity, @ForAll("checkpoints") Checkpoint checkpoint)
      throws Exception {
    clean();
    Path file = dir.resolve("p.checkpoint");
    try (CheckpointStore store = Collecting.fileStore(file, identity)) {
      store.commit(checkpoint);
      assertEquals(checkpoint, store.load());
    }
    try (CheckpointStore next = Collecting.fileStore(file, identity)) {
      assertEquals(checkpoint, next.load());
    }
  }

  @Provide
  Arbitrary<List<Tuple.Tuple3<Integer, Integer, Integer>>> damages() {
    // (kind, position per mille, value): 0 flip bits, 1 cut the end, 2 insert, 3 delete
    return Combinators.combine(
            Arbitraries.integers().between(0, 3),
            Arbitraries.integers().between(0, 999),
            Arbitraries.integers().between(1, 255))
        .as(Tuple::of)
        .list()
        .ofMinSize(1)
        .ofMaxSize(4);
  }

  @Property
  void anyDamage_isAnErrorNamingTheFile(
      @ForAll("checkpoints") Checkpoint checkpoint,
      @ForAll("damages") List<Tuple.Tuple3<Integer, Integer, Integer>> damages)
      throws Exception {
    clean();
    Path file = dir.resolve("d.checkpoint");
    byte[] valid = FileCheckpointStore.format("src", checkpoint).getBytes(StandardCharsets.UTF_8);
    byte[] bytes = valid;
    for (var d : damages) {
      int at = (int) ((long) bytes.length * d.get2() / 1000);
      byte value = (byte) (int) d.get3();
      bytes =
          switch (d.get1()) {
            case 0 -> {
              byte[] b = bytes.clone();
              if (b.length > 0) {
                b[at] ^= value;
              }
              yield b;
            }
            case 1 -> Arrays.copyOf(bytes, at);
            case 2 -> {
              byte[] b = new byte[bytes.length + 1];
              System.arraycopy(bytes, 0, b, 0, at);
              b[at] = value;
              System.arraycopy(bytes, at, b, at + 1, bytes.length - at);
              yield b;
            }
            default -> {
              if (bytes.length == 0) {
                yield bytes;
              }
              int gone = Math.min(at, bytes.length - 1);
              byte[] b = new byte[bytes.length - 1];
              System.arraycopy(bytes, 0, b, 0, gone);
              System.arraycopy(bytes, gone + 1, b, gone, bytes.length - gone - 1);
              yield b;
            }
          };
    }
    if (Arrays.equals(valid, bytes)) {
      return; // the damages cancelled out
    }
    Files.write(file, bytes);
    try (CheckpointStore store = Collecting.fileStore(file, "src")) {
      var e = assertThrows(IOException.class, store::load);
      assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }
  }
}
