package dev.collector.core;

import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/** Wrappers that observe what the collector does with a source and a store. */
final class Sources {
  private Sources() {}

  /** Counts fetched batches and records the fetching threads. */
  static final class Observed<T> implements BatchSource<T> {
    final BatchSource<T> delegate;
    final Threads threads;
    final AtomicLong fetches = new AtomicLong();
    volatile @Nullable Thread fetcher;

    Observed(BatchSource<T> delegate, Threads threads) {
      this.delegate = delegate;
      this.threads = threads;
    }

    @Override
    public SourceReader<T> open(String resumeToken) throws Exception {
      SourceReader<T> reader = delegate.open(resumeToken);
      return new SourceReader<>() {
        @Override
        public @Nullable SourceBatch<T> next() throws Exception {
          threads.record();
          fetcher = Thread.currentThread();
          SourceBatch<T> b = reader.next();
          if (b != null) {
            fetches.incrementAndGet();
          }
          return b;
        }

        @Override
        public void close() throws IOException {
          reader.close();
        }
      };
    }
  }

  /** Records the committing threads. */
  static CheckpointStore observed(CheckpointStore store, Threads threads) {
    return new CheckpointStore() {
      @Override
      public @Nullable Checkpoint load() throws IOException {
        return store.load();
      }

      @Override
      public void commit(Checkpoint checkpoint) throws IOException {
        threads.record();
        store.commit(checkpoint);
      }
    };
  }
}
