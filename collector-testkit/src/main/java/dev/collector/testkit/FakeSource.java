package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.BatchSource;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongFunction;
import org.jspecify.annotations.Nullable;

/**
 * A finite, resumable source for tests, with injectable faults: fetch failures at chosen sequences
 * or with a seeded probability, and fetch latency. Its resume token is the index of the next batch,
 * so a restart resumes exactly where the checkpoint says.
 *
 * <p>Thread-safe; a reader is used by one thread at a time, as the collector does.
 *
 * {@snippet class=dev.collector.core.TestkitJavadocExamplesTest region=fakeSource}
 *
 * @param <T> the record type
 */
public final class FakeSource<T> implements BatchSource<T> {

  private final long batches;
  private final LongFunction<List<T>> batchAt;
  private final AtomicInteger opens = new AtomicInteger();
  private final Map<Long, Integer> fetchFailures = new ConcurrentHashMap<>();
  private final ReentrantLock randomLock = new ReentrantLock();

  @GuardedBy("randomLock")
  private @Nullable SplittableRandom random;

  @GuardedBy("randomLock")
  private double failureProbability;

  private volatile Duration latency = Duration.ZERO;

  private FakeSource(long batches, LongFunction<List<T>> batchAt) {
    this.batches = batches;
    this.batchAt = batchAt;
  }

  /**
   * A source over the given batches.
   *
   * @param batches the batches, in order; copied
   * @param <T> the record type
   * @return the source
   */
  public static <T> FakeSource<T> of(List<? extends List<? extends T>> batches) {
    List<List<T>> copy = batches.stream().<List<T>>map(List::copyOf).toList();
    return new FakeSource<>(copy.size(), i -> copy.get((int) i));
  }

  /**
   * A source of {@code batches} batches of {@code recordsPerBatch} consecutive {@code long} record
   * ids: batch {@code b} holds {@code b * recordsPerBatch} up to {@code (b + 1) * recordsPerBatch -
   * 1}. Generated on demand, so it can be large.
   *
   * @param batches how many batches
   * @param recordsPerBatch records in each
   * @return the source
   */
  public static FakeSource<Long> generated(long batches, int recordsPerBatch) {
    if (batches < 0 || recordsPerBatch < 0) {
      throw new IllegalArgumentException(
          "batches and recordsPerBatch must be >= 0, were " + batches + ", " + recordsPerBatch);
    }
    return new FakeSource<>(
        batches,
        b -> {
          List<Long> records = new ArrayList<>(recordsPerBatch);
          for (int i = 0; i < recordsPerBatch; i++) {
            records.add(b * recordsPerBatch + i);
          }
          return records;
        });
  }

  /**
   * Makes the next {@code times} fetches of batch {@code sequence} throw {@link IOException};
   * {@code Integer.MAX_VALUE} fails it for ever.
   *
   * @param sequence the batch
   * @param times how many fetches of it fail
   * @return this source
   */
  public FakeSource<T> failFetch(long sequence, int times) {
    fetchFailures.put(sequence, times);
    return this;
  }

  /**
   * Makes each fetch fail with {@link IOException} with the given probability, drawn from a
   * generator seeded with {@code seed}.
   *
   * @param probability between 0 and 1
   * @param seed the seed, to reproduce a run
   * @return this source
   */
  public FakeSource<T> failRandomly(double probability, long seed) {
    if (!(probability >= 0 && probability <= 1)) {
      throw new IllegalArgumentException("probability must be in [0, 1], was " + probability);
    }
    randomLock.lock();
    try {
      this.failureProbability = probability;
      this.random = new SplittableRandom(seed);
    } finally {
      randomLock.unlock();
    }
    return this;
  }

  /**
   * Makes every fetch take {@code latency} (interruptibly) before it answers.
   *
   * @param latency the delay per fetch
   * @return this source
   */
  public FakeSource<T> fetchLatency(Duration latency) {
    this.latency = latency;
    return this;
  }

  /**
   * The number of batches.
   *
   * @return it
   */
  public long batches() {
    return batches;
  }

  /**
   * The number of records in all batches.
   *
   * @return the sum of the batch sizes
   */
  public long totalRecords() {
    long total = 0;
    for (long b = 0; b < batches; b++) {
      total += batchAt.apply(b).size();
    }
    return total;
  }

  /**
   * The records of batch {@code sequence}, as the source delivers them.
   *
   * @param sequence the batch
   * @return its records
   */
  public List<T> batch(long sequence) {
    return batchAt.apply(sequence);
  }

  /**
   * How many times a reader was opened.
   *
   * @return the count
   */
  public int opens() {
    return opens.get();
  }

  @Override
  public SourceReader<T> open(String resumeToken) {
    long from = resumeToken.isEmpty() ? 0 : parse(resumeToken);
    opens.incrementAndGet();
    return new SourceReader<>() {
      private long next = from;

      @Override
      public @Nullable SourceBatch<T> next() throws IOException, InterruptedException {
        Duration delay = latency;
        if (!delay.isZero()) {
          Thread.sleep(delay);
        }
        if (next >= batches) {
          return null;
        }
        long sequence = next;
        Integer left = fetchFailures.computeIfPresent(sequence, (s, n) -> n == 0 ? null : n - 1);
        if (left != null || randomFailure()) {
          throw new IOException("injected fetch failure of batch " + sequence);
        }
        next++;
        return new SourceBatch<>(batchAt.apply(sequence), Long.toString(next));
      }

      @Override
      public void close() {}
    };
  }

  private boolean randomFailure() {
    randomLock.lock();
    try {
      return random != null && random.nextDouble() < failureProbability;
    } finally {
      randomLock.unlock();
    }
  }

  private long parse(String token) {
    long index;
    try {
      index = Long.parseLong(token);
    } catch (NumberFormatException e) {
      index = -1;
    }
    if (index < 0 || index > batches) {
      throw new IllegalArgumentException(
          "resume token \""
              + token
              + "\" is not a batch index of"
              + " this source of "
              + batches
              + " batches");
    }
    return index;
  }
}
