package dev.collector;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * SPI: where the collector keeps its committed {@link Checkpoint}.
 *
 * <p>The collector calls {@link #commit} from one thread at a time, never concurrently, with
 * checkpoints whose sequence strictly increases. When {@code commit} returns the checkpoint must be
 * durable as far as the store promises durability: the collector reports it as committed and never
 * delivers the batches below it again.
 */
public interface CheckpointStore extends AutoCloseable {

  /**
   * Reads the last committed checkpoint.
   *
   * @return the checkpoint, or {@code null} if nothing was ever committed to this store
   * @throws IOException if the store cannot be read or holds something that is not a valid
   *     checkpoint; a store must never answer {@code null} for a damaged checkpoint
   */
  @Nullable Checkpoint load() throws IOException;

  /**
   * Makes {@code checkpoint} the committed one, replacing the previous.
   *
   * @param checkpoint the new checkpoint; its sequence is larger than the previous one's
   * @throws IOException if the write failed; the previous checkpoint must then still be the one
   *     that {@link #load()} returns. The one exception is a write that took place but could not be
   *     made durable (a file store whose directory could not be forced after the rename): its
   *     message must then say so and name both checkpoints, since {@link #load()} returns the new
   *     one and a power failure may bring back the previous one. Either is a safe restart point:
   *     the collector commits only handled batches
   */
  void commit(Checkpoint checkpoint) throws IOException;

  /**
   * Releases the store (a file store's lock, say). The collector never closes a store: whoever
   * opened it does, after the collector is closed. Does nothing by default.
   *
   * @throws IOException if releasing failed
   */
  @Override
  default void close() throws IOException {}
}
