package dev.collector.testkit;

import dev.collector.BatchHandler;
import dev.collector.Checkpoint;
import dev.collector.Collector;
import dev.collector.CollectorException;
import dev.collector.CollectorOptions;
import dev.collector.Retry;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a handler through crashes: a collector over a {@link FakeSource} and a {@link
 * RecordingCheckpointStore} is "killed" at seeded-random checkpoints (the store freezes what is
 * durable, as a dead process leaves it), a new collector is opened on what survived, and so on
 * until the source is done. Handlers are held back by seeded random jitter so batches finish
 * out of order. The {@link Ledger} it returns records every delivery and checks the guarantees.
 *
 * {@snippet :
 * Ledger<Long> ledger = CrashHarness.over(FakeSource.generated(500, 10), Collecting::open)
 *     .depth(16).crashes(10).seed(42)
 *     .run(batch -> sink.upsert(batch.records()));
 * ledger.assertAll(16);
 * }
 *
 * <p>Not thread-safe: configure and run it from one thread.
 *
 * @param <T> the record type
 */
public final class CrashHarness<T> {

  private final FakeSource<T> source;
  private final CollectorFactory factory;
  private int depth = 8;
  private int crashes = 5;
  private long seed = System.nanoTime();
  private boolean jitter = true;
  private CollectorOptions options = CollectorOptions.defaults();

  private CrashHarness(FakeSource<T> source, CollectorFactory factory) {
    this.source = source;
    this.factory = factory;
  }

  /**
   * A harness over {@code source}, opening collectors with {@code factory}.
   *
   * @param source the source
   * @param factory {@code Collecting::open}
   * @param <T> the record type
   * @return the harness
   */
  public static <T> CrashHarness<T> over(FakeSource<T> source, CollectorFactory factory) {
    return new CrashHarness<>(source, factory);
  }

  /**
   * Sets the depth each run processes with (default 8).
   *
   * @param depth the depth
   * @return this harness
   */
  public CrashHarness<T> depth(int depth) {
    this.depth = CollectorOptions.checkDepth(depth);
    return this;
  }

  /**
   * Sets how many crashes to attempt (default 5); fewer happen if the source ends first.
   *
   * @param crashes the count
   * @return this harness
   */
  public CrashHarness<T> crashes(int crashes) {
    this.crashes = crashes;
    return this;
  }

  /**
   * Sets the seed of crash points and jitter (default: the clock; failures print it).
   *
   * @param seed the seed
   * @return this harness
   */
  public CrashHarness<T> seed(long seed) {
    this.seed = seed;
    return this;
  }

  /**
   * Turns the out-of-order jitter off (on by default).
   *
   * @return this harness
   */
  public CrashHarness<T> withoutJitter() {
    this.jitter = false;
    return this;
  }

  /**
   * Sets the collector options (failure policy, name, ...). Commit retries are turned off: a
   * crashed store stays dead.
   *
   * @param options the options
   * @return this harness
   */
  public CrashHarness<T> options(CollectorOptions options) {
    this.options = options;
    return this;
  }

  /**
   * Runs {@code handler} through the crashes until the source is done.
   *
   * @param handler the handler under test
   * @return the ledger of what happened
   * @throws InterruptedException if interrupted
   * @throws AssertionError if a run failed for another reason than a crash (with the seed)
   */
  public Ledger<T> run(BatchHandler<T> handler) throws InterruptedException {
    var ledger = new Ledger<T>(seed, source);
    var random = new SplittableRandom(seed);
    var store =
        new RecordingCheckpointStore(
            null,
            (previous, next) -> {
              for (long s = previous.sequence(); s < next.sequence(); s++) {
                if (!ledger.wasHandled(s)) {
                  throw new AssertionError("commit " + next + " covers unhandled batch " + s
                      + "; seed " + seed);
                }
              }
            });
    CollectorOptions runOptions = options.toBuilder().commitRetry(Retry.NONE).build();
    int crashed = 0;
    while (true) {
      Checkpoint start = store.current();
      long crashAt = Long.MAX_VALUE;
      if (crashed < crashes) {
        crashAt = start.sequence() + 1 + random.nextLong(2L * depth);
        if (crashAt > source.batches()) {
          crashAt = Long.MAX_VALUE;
        }
      }
      store.crashAtSequence(crashAt);
      ledger.startRun(start);
      long runSeed = random.nextLong();
      boolean crash = false;
      try (Collector<T> collector = factory.open(source, store, runOptions)) {
        collector.process(depth, batch -> {
          if (store.isCrashed()) {
            throw new IllegalStateException("simulated crash: this process is dead");
          }
          if (jitter) {
            jitter(runSeed, batch.sequence());
          }
          handler.handle(batch);
          if (!store.isCrashed()) {
            ledger.handled(batch);
          }
        });
      } catch (CollectorException e) {
        if (!store.isCrashed()) {
          throw new AssertionError("run failed without a simulated crash; seed " + seed, e);
        }
        crash = true;
      }
      store.assertNoViolation();
      ledger.endRun(store.current(), crash);
      if (!crash) {
        ledger.commits(store.history());
        return ledger;
      }
      crashed++;
      store.restart();
    }
  }

  /** Holds some batches back so that later ones finish first; the same for a seed. */
  private static void jitter(long runSeed, long sequence) {
    var draw = new SplittableRandom(runSeed ^ (sequence * 0x9E3779B97F4A7C15L));
    if (draw.nextInt(3) == 0) {
      LockSupport.parkNanos(draw.nextLong(20_000, 200_000));
    }
  }
}
