package dev.collector.core;

import dev.collector.BatchSource;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The entry point: opens collectors and provides the built-in checkpoint store and source.
 *
 * {@snippet class=dev.collector.core.JavadocExamplesTest region=collecting}
 */
public final class Collecting {

  private Collecting() {}

  /**
   * Opens a collector that resumes at the store's committed checkpoint.
   *
   * @param source the sequenced source
   * @param store where the checkpoint is kept; one collector at a time per store
   * @param options the settings
   * @param <T> the record type
   * @return a new collector; close it when done
   * @throws dev.collector.CheckpointException if the store's checkpoint cannot be read
   */
  public static <T> Collector<T> open(
      BatchSource<T> source, CheckpointStore store, CollectorOptions options) {
    return new OrderedCollector<>(source, store, options);
  }

  /**
   * A checkpoint store in memory: durable for the life of the object, for tests, examples and
   * sources that keep their own offsets. Thread-safe. Rejects a checkpoint that does not move
   * forward.
   *
   * @return a new, empty store
   */
  public static CheckpointStore inMemoryStore() {
    return new InMemoryCheckpointStore();
  }

  /**
   * A durable checkpoint store in one file, for a collector per file.
   *
   * <p>Survives {@code kill -9} at any moment: a commit replaces the file atomically (temporary
   * file, fsync, atomic rename, directory fsync), so the file always holds the old or the new
   * checkpoint. The file is versioned and checksummed (CRC32C) and names its source: a corrupt,
   * truncated or foreign file makes {@link dev.collector.CheckpointStore#load() load} throw, never
   * start over. The store locks {@code <file>.lock} until {@link
   * dev.collector.CheckpointStore#close() close}: a second store on the same file, in any process
   * and under any name (a symbolic link), fails naming the holder; outside Windows the store also
   * locks the checkpoint file itself, so a hard link, or a lock file deleted while held, does not
   * let a second store in, and a store whose lock file was deleted or replaced refuses its next
   * commit. A commit whose sequence is not above the highest committed or loaded one is refused.
   * Opening deletes the temporary files of commits that were killed mid-write.
   *
   * <p>A fresh start is a file that does not exist, on a store that has neither committed nor
   * loaded a checkpoint: {@code load} returns {@code null} and the collector starts at the source's
   * beginning. If the file (or its folder) disappears after the store committed or loaded one,
   * {@code load} throws naming the sequence it knew. To reprocess a source deliberately, close the
   * store, delete the file, and open a new store. A checkpoint larger than 16 MiB as a file, or
   * whose token is not valid Unicode, is refused by {@code commit} before anything is written.
   * Every I/O error names the path.
   *
   * @param file the checkpoint file; its directory is created if missing
   * @param sourceIdentity names the source this checkpoint belongs to (e.g. a path or topic); a
   *     file written for another identity is refused
   * @return the store; close it after the collector
   * @throws java.io.IOException if the lock cannot be taken or the directory not created
   */
  public static CheckpointStore fileStore(Path file, String sourceIdentity) throws IOException {
    return new FileCheckpointStore(file, sourceIdentity, FileCheckpointStore.DEFAULT_OPS);
  }

  /**
   * A source of the lines of a UTF-8 text file, in batches of up to {@link
   * LineSourceOptions#maxLines()} lines and {@link LineSourceOptions#maxBytes()} bytes. A line ends
   * at {@code \n} or {@code \r\n}; a lone {@code \r} is part of the line. Its resume token is
   * {@code <file identity>@<byte offset>#<records>/<kind><crc>}: the file's identity, the byte
   * offset after the batch's last record, how many records of the file come before that offset,
   * whether the offset is a line start, inside a split line or after an unterminated last line, and
   * a CRC32C of the file's first bytes (up to 4 KiB), so a restart continues exactly there; a file
   * replaced (also by one that reused the inode), truncated below that offset or rewritten is
   * reported, never re-read or skipped, and so is an offset in the middle of a line. A finite
   * source delivers a last line without a line end; if the file later continues that line, resuming
   * after it is an error (read a file that is still being written in follow mode).
   *
   * <p>With {@link LineSourceOptions#follow()} it keeps reading as the file grows, holding a last
   * line without a line end until it is complete, and follows rotation like {@code tail -F}: when
   * the path names a new file, it first reads the old one to its end (the run goes on; nothing of
   * the old file is lost or left uncommitted), then any younger numbered rotated file ({@code
   * <file>.<N>}), then the new one. A checkpoint in a rotated file is found again in the same
   * directory by the file's identity. A following source cuts a batch where the file ends when it
   * reads it, so a batch replayed after a crash may hold more lines than before and later sequences
   * shift: deduplicate by {@link #lineFileRecordCount record number}, not by sequence.
   *
   * @param file the file
   * @param options batch sizes, line limits, decoding and follow mode
   * @return the source; it may be opened from any thread, its readers block on file I/O and, when
   *     following, poll
   */
  public static BatchSource<String> lineFileSource(Path file, LineSourceOptions options) {
    return new LineFileSource(file, options);
  }

  /**
   * The record number at a {@link #lineFileSource line-file source}'s resume token: how many
   * records (lines, or pieces of split lines) of the token's file come before it. Record {@code i}
   * of a batch (from 0) is number {@code lineFileRecordCount(batch.resumeToken()) -
   * batch.records().size() + i} of the file named by the token's identity (the text before its last
   * {@code @}). Unlike a batch's sequence, that number is the same in every replay, also in follow
   * mode: a sink that must not write a line twice uses (file identity, record number) as the line's
   * key (a unique key, an upsert). A sink that writes batches one at a time, in sequence order, may
   * instead keep the highest number it wrote per file and skip records at or below it.
   *
   * @param resumeToken a resume token of the line-file source
   * @return the number of records of its file before the token's position
   * @throws IllegalArgumentException if it is not such a token
   */
  public static long lineFileRecordCount(String resumeToken) {
    return LineFileSource.recordCount(resumeToken);
  }

  /**
   * A finite source over a list of batches. Its resume token is the index of the next batch.
   *
   * @param batches the batches, in order; copied
   * @param <T> the record type
   * @return the source
   */
  public static <T> BatchSource<T> listSource(List<? extends List<? extends T>> batches) {
    return new ListSource<>(batches);
  }
}
