package dev.collector;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * SPI: where the collector keeps its committed {@link Checkpoint}.
 *
 * <p>The collector calls {@link #commit} from one thread at a time, never concurrently, with
 * checkpoints whose sequence strictly increases. When {@code commit} returns the checkpoint must
 * be durable as far as the store promises durability: the collector reports it as committed and
 * never delivers the batches below it again.
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
   *     that {@link #load()} returns
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
