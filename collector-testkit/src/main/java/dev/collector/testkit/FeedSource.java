package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.BatchSource;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A follow-style source the test feeds as it goes, like a queue or a growing log: {@link
 * #feed(List)} appends a batch, {@link #end()} ends the source. A reader waits (interruptibly, as a
 * follow-mode source must) until there is a batch or the end. Resume token: the index of the next
 * batch. Thread-safe.
 *
 * @param <T> the record type
 */
public final class FeedSource<T> implements BatchSource<T> {

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();

  @GuardedBy("lock")
  private final List<List<T>> batches = new ArrayList<>();

  @GuardedBy("lock")
  private boolean ended;

  /** An empty source that waits for {@link #feed(List)}. */
  public FeedSource() {}

  /**
   * Appends a batch; a waiting reader gets it.
   *
   * @param records the batch's records
   * @return this source
   * @throws IllegalStateException after {@link #end()}
   */
  public FeedSource<T> feed(List<? extends T> records) {
    lock.lock();
    try {
      if (ended) {
        throw new IllegalStateException("the source was ended; feed() before end()");
      }
      batches.add(List.copyOf(records));
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    return this;
  }

  /** Ends the source: readers return end-of-source after the batches fed so far. */
  public void end() {
    lock.lock();
    try {
      ended = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public SourceReader<T> open(String resumeToken) {
    int from = resumeToken.isEmpty() ? 0 : Integer.parseInt(resumeToken);
    return new SourceReader<>() {
      private int next = from;

      @Override
      public @Nullable SourceBatch<T> next() throws InterruptedException {
        lock.lockInterruptibly();
        try {
          while (next >= batches.size() && !ended) {
            changed.await();
          }
          if (next >= batches.size()) {
            return null;
          }
          List<T> records = batches.get(next++);
          return new SourceBatch<>(records, Integer.toString(next));
        } finally {
          lock.unlock();
        }
      }

      @Override
      public void close() {}
    };
  }
}
