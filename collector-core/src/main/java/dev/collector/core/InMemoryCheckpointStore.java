package dev.collector.core;

import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import org.jspecify.annotations.Nullable;

/** See {@link Collecting#inMemoryStore()}. */
final class InMemoryCheckpointStore implements CheckpointStore {

  private volatile @Nullable Checkpoint checkpoint;

  @Override
  public @Nullable Checkpoint load() {
    return checkpoint;
  }

  @Override
  public void commit(Checkpoint next) {
    Checkpoint current = checkpoint;
    if (current != null && next.sequence() <= current.sequence()) {
      throw new IllegalArgumentException(
          "checkpoint must move forward: committed sequence "
              + current.sequence()
              + ", got "
              + next.sequence());
    }
    checkpoint = next;
  }

  @Override
  public String toString() {
    return "InMemoryCheckpointStore[" + checkpoint + "]";
  }
}
