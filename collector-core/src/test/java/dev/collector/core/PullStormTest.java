package dev.collector.core;

import static org.junit.jupiter.api.Assertions.fail;

import dev.collector.AckOrdering;
import dev.collector.Batch;
import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorOptions;
import dev.collector.ConflictingOutcomeException;
import dev.collector.DeadLetterHandler;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.OutOfOrderAckException;
import dev.collector.Retry;
import dev.collector.SourceBatch;
import dev.collector.SourceException;
import dev.collector.SourceReader;
import dev.collector.StaleDeliveryException;
import dev.collector.testkit.CollectorLeakCheck;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeded storms of the pull API: several caller threads take deliveries with {@code next()}, {@code
 * next(timeout)} and {@code tryNext()} and settle them with random ack, fail or close, while a
 * second thread races duplicate or conflicting settles on some of them, another waits in {@code
 * awaitCommitted()}, and {@code close()} ends it all at a random point; BUFFERED and STRICT
 * ordering; fail-fast, retry, retry then dead-letter, and dead-letter handlers that throw; a store
 * that fails commits and a source that fails fetches.
 *
 * <p>Invariants: misuse throws only the documented {@code MisuseException} subclasses (and run
 * failures only from {@code next()}); exactly one outcome per delivery; the committed checkpoint
 * never covers a batch that was not acknowledged or dead-lettered; {@code awaitCommitted()} never
 * returns below the acknowledged prefix at its call; {@code close()} ends every thread; a new
 * collector on the store resumes at the durable checkpoint, and across restarts every batch is
 * settled at least once.
 *
 * <p>Reproduce with {@code -Dcollector.seed=N} (printed at start and in every failure). Five times
 * the rounds when {@code CI} is set.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PullStormTest {

  private static final long SEED = Long.getLong("collector.seed", System.nanoTime());
  private static final int SCALE = System.getenv("CI") != null ? 5 : 1;
  private static final int ROUNDS = Integer.getInteger("collector.storm.rounds", 40) * SCALE;

  /** Runs only this round, ROUNDS times, to reproduce a timing-dependent failure. */
  private static final int ONLY = Integer.getInteger("collector.storm.only", -1);

  private static final long JOIN_MILLIS = 5_000;
  private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(5);

  @Test
  void pull_settleStorm_exactlyOneOutcomeAndNothingUnackedCommitted() throws Exception {
    System.out.println(
        "PullStormTest seed "
            + SEED
            + " (rerun with -Dcollector.seed="
            + SEED
            + "), "
            + ROUNDS
            + " rounds");
    long started = System.nanoTime();
    List<String> problems = new ArrayList<>();
    Map<String, AtomicInteger> tally = new ConcurrentHashMap<>();
    for (int round = 0; round < ROUNDS; round++) {
      Round r = new Round(SEED, ONLY >= 0 ? ONLY : round, tally);
      try {
        r.run();
      } catch (AssertionError e) {
        problems.add(e.getMessage());
        if (r.hung) {
          break; // threads may still run: stop the storm here
        }
      }
    }
    List<String> alive = CollectorLeakCheck.liveCollectorThreads();
    if (!alive.isEmpty()) {
      problems.add("seed " + SEED + ": collector threads alive after the storm: " + alive);
    }
    System.out.println(
        "PullStormTest seed "
            + SEED
            + ": "
            + ROUNDS
            + " rounds in "
            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)
            + " ms, "
            + tally);
    if (!problems.isEmpty()) {
      fail(
          problems.size()
              + " of "
              + ROUNDS
              + " rounds broke an invariant (seed "
              + SEED
              + ", rerun with -Dcollector.seed="
              + SEED
              + "):\n"
              + String.join("\n", problems.subList(0, Math.min(20, problems.size()))));
    }
  }

  /** What happened to one delivery (one attempt of one batch in one session). */
  static final class Outcome {
    final AtomicInteger ackTrue = new AtomicInteger();
    final AtomicInteger failTrue = new AtomicInteger();
    final AtomicInteger deadLetters = new AtomicInteger();
    final AtomicInteger settleStarted = new AtomicInteger();
  }

  static final class Round {
    final String context;
    final SplittableRandom random;
    final long seed;
    final int batches;
    final int depth;
    final int concurrency;
    final int limit;
    final boolean strict;
    final int policyKind;
    final double failRate;
    final double abandonRate;
    final double dlThrows;
    final double commitFailure;
    final Retry commitRetry;
    final Map<String, AtomicInteger> tally;
    final RecordingCheckpointStore recording;
    final Threads threads = new Threads();
    final AtomicIntegerArray ackIntent;
    final AtomicIntegerArray acked;
    final AtomicIntegerArray deadLettered;
    final List<String> violations = new CopyOnWriteArrayList<>();
    final Map<Long, List<String>> history = new ConcurrentHashMap<>();
    final Map<Batch<?>, Outcome> outcomes = Collections.synchronizedMap(new IdentityHashMap<>());
    final AtomicLong obtained = new AtomicLong();
    final AtomicLong settleStarts = new AtomicLong();
    final AtomicLong settles = new AtomicLong();
    final ReentrantLock commitRandomLock = new ReentrantLock();
    final SplittableRandom commitRandom;
    final LinkedBlockingQueue<Runnable> duplicates = new LinkedBlockingQueue<>();
    volatile boolean broken; // a session may have ended: bounds that span sessions are off
    volatile boolean stopping;
    volatile boolean hung;
    volatile @Nullable Collector<Long> collector;
    final CollectorOptions options;

    Round(long rootSeed, int round, Map<String, AtomicInteger> tally) {
      this.seed = rootSeed ^ (round * 0xC2B2AE3D27D4EB4FL);
      this.random = new SplittableRandom(seed);
      this.tally = tally;
      this.batches = 20 + random.nextInt(180);
      int[] depths = {1, 2, 7, 64};
      this.depth = depths[random.nextInt(depths.length)];
      this.concurrency = random.nextInt(3) == 0 ? 0 : 1 + random.nextInt(depth);
      this.limit = concurrency == 0 ? depth : Math.min(concurrency, depth);
      this.strict = random.nextBoolean();
      this.policyKind = random.nextInt(4);
      this.failRate = new double[] {0, 0.01, 0.05, 0.15}[random.nextInt(4)];
      this.abandonRate = new double[] {0, 0.01, 0.03}[random.nextInt(3)];
      this.dlThrows = policyKind == 3 ? 0.3 : 0;
      this.commitFailure = new double[] {0, 0, 0.02, 0.1}[random.nextInt(4)];
      this.commitRetry = Retry.of(1 + random.nextInt(3), Duration.ZERO, Duration.ofMillis(1));
      this.commitRandom = random.split();
      this.ackIntent = new AtomicIntegerArray(batches);
      this.acked = new AtomicIntegerArray(batches);
      this.deadLettered = new AtomicIntegerArray(batches);
      Duration interval =
          random.nextBoolean() ? Duration.ZERO : Duration.ofNanos(random.nextLong(5_000_001));
      Retry retry = Retry.of(2 + random.nextInt(2), Duration.ZERO, Duration.ofMillis(1));
      DeadLetterHandler dl = this::deadLetter;
      FailurePolicy policy =
          switch (policyKind) {
            case 0 -> FailurePolicy.failFast();
            case 1 -> FailurePolicy.retry(retry);
            default -> FailurePolicy.retry(retry).thenDeadLetter(dl);
          };
      this.options =
          CollectorOptions.builder()
              .name("pullstorm")
              .depth(depth)
              .concurrency(concurrency)
              .commitInterval(interval)
              .ackOrdering(strict ? AckOrdering.STRICT : AckOrdering.BUFFERED)
              .failurePolicy(policy)
              .commitRetry(commitRetry)
              .fetchRetry(Retry.of(1 + random.nextInt(3), Duration.ZERO, Duration.ofMillis(1)))
              .build();
      this.context =
          "seed "
              + rootSeed
              + " (rerun with -Dcollector.seed="
              + rootSeed
              + "), round "
              + round
              + ": "
              + batches
              + " batches, depth "
              + depth
              + ", concurrency "
              + concurrency
              + ", "
              + (strict ? "STRICT" : "BUFFERED")
              + ", policy "
              + policyKind
              + ", failRate "
              + failRate
              + ", abandonRate "
              + abandonRate
              + ", dlThrows "
              + dlThrows
              + ", commitFailure "
              + commitFailure
              + ", commitRetry "
              + commitRetry.maxAttempts()
              + ", interval "
              + interval.toNanos()
              + " ns";
      this.recording =
          new RecordingCheckpointStore(
              null,
              (previous, next) -> {
                for (long s = previous.sequence(); s < next.sequence(); s++) {
                  int i = (int) s;
                  // intent before acked: an ack sets acked before it drops its intent, so
                  // reading them in this order never misses an ack that is in flight
                  if (ackIntent.get(i) == 0 && acked.get(i) == 0 && deadLettered.get(i) == 0) {
                    String m =
                        "committed batch "
                            + s
                            + " that was neither acknowledged nor"
                            + " dead-lettered ("
                            + previous
                            + " -> "
                            + next
                            + "); its history "
                            + history.get(s);
                    violation(m);
                    throw new AssertionError(m);
                  }
                }
              });
    }

    void violation(String m) {
      violations.add(context + ": " + m);
    }

    void note(long sequence, String what) {
      history
          .computeIfAbsent(sequence, k -> new CopyOnWriteArrayList<>())
          .add(Thread.currentThread().getName() + ": " + what);
    }

    void count(String what) {
      tally.computeIfAbsent(what, k -> new AtomicInteger()).incrementAndGet();
    }

    Outcome outcome(Delivery<Long> d) {
      return outcomes.computeIfAbsent(d.batch(), b -> new Outcome());
    }

    void deadLetter(Batch<?> batch, Throwable cause) throws Exception {
      Outcome o = outcomes.get(batch);
      if (o == null) {
        violation("dead-letter handler got a batch that no delivery carried: " + batch);
      } else if (o.deadLetters.incrementAndGet() > 1) {
        violation("dead-letter handler ran twice for one delivery of batch " + batch.sequence());
      }
      broken = true;
      boolean fails;
      boolean rethrow;
      commitRandomLock.lock();
      try {
        fails = commitRandom.nextDouble() < dlThrows;
        rethrow = commitRandom.nextBoolean();
      } finally {
        commitRandomLock.unlock();
      }
      note(
          batch.sequence(), "dead-letter attempt " + batch.attempt() + (fails ? " throws" : " ok"));
      if (fails) {
        if (cause instanceof Exception e && rethrow) {
          throw e;
        }
        throw new IOException("dead-letter handler failed for batch " + batch.sequence());
      }
      deadLettered.set((int) batch.sequence(), 1);
    }

    CheckpointStore store() {
      return new CheckpointStore() {
        @Override
        public @Nullable Checkpoint load() {
          return recording.load();
        }

        @Override
        public void commit(Checkpoint checkpoint) throws IOException {
          threads.record();
          Collector<Long> c = collector;
          if (c != null) {
            int inFlight = c.progress().inFlight();
            if (inFlight > depth) {
              violation("G3: progress().inFlight() " + inFlight + " > depth at commit");
            }
          }
          boolean inject;
          commitRandomLock.lock();
          try {
            inject = commitRandom.nextDouble() < commitFailure;
          } finally {
            commitRandomLock.unlock();
          }
          if (inject) {
            broken = true;
            throw new IOException("injected commit failure of " + checkpoint);
          }
          recording.commit(checkpoint);
        }
      };
    }

    FakeSource<Long> fake(boolean faulty) {
      FakeSource<Long> f = FakeSource.generated(batches, 1);
      if (faulty) {
        f.failRandomly(new double[] {0, 0, 0.01}[random.nextInt(3)], random.nextLong());
      }
      return f;
    }

    dev.collector.BatchSource<Long> observed(FakeSource<Long> fake) {
      return token -> {
        SourceReader<Long> reader = fake.open(token);
        return new SourceReader<>() {
          @Override
          public @Nullable SourceBatch<Long> next() throws Exception {
            threads.record();
            try {
              return reader.next();
            } catch (IOException e) {
              broken = true;
              throw e;
            }
          }

          @Override
          public void close() throws IOException {
            reader.close();
          }
        };
      };
    }

    /** The contiguous prefix of batches acknowledged (by a call that returned true). */
    long ackedPrefix() {
      long s = 0;
      while (s < batches && (acked.get((int) s) != 0 || deadLettered.get((int) s) != 0)) {
        s++;
      }
      return s;
    }

    void run() throws Exception {
      Collector<Long> c = Collecting.open(observed(fake(true)), store(), options);
      collector = c;
      int workers = 2 + random.nextInt(3);
      long closeAfter =
          random.nextInt(3) == 0 ? Long.MAX_VALUE : random.nextLong(Math.max(1, batches * 2L));
      List<Thread> threadsToJoin = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        SplittableRandom wr = random.split();
        threadsToJoin.add(
            Thread.ofPlatform().name("pullstorm-worker-" + w).start(() -> work(c, wr)));
      }
      Thread duplicator = Thread.ofPlatform().name("pullstorm-duplicator").start(this::duplicate);
      Thread awaiter = Thread.ofPlatform().name("pullstorm-awaiter").start(() -> await(c));
      // close() at a random moment: once this many settles happened, or when the workers end
      long lastSettles = -1;
      long lastChange = System.nanoTime();
      while (settles.get() < closeAfter && threadsToJoin.stream().anyMatch(Thread::isAlive)) {
        long now = System.nanoTime();
        if (settles.get() != lastSettles) {
          lastSettles = settles.get();
          lastChange = now;
        } else if (now - lastChange > STALL_NANOS) {
          hung = true;
          violation(
              "no delivery settled for 5 s: stalled; progress "
                  + c.progress()
                  + ", threads "
                  + CollectorLeakCheck.liveCollectorThreads());
          break;
        }
        LockSupport.parkNanos(200_000); // polling for the random close moment, not ordering
      }
      stopping = true;
      try {
        c.close();
        count("close ok");
      } catch (CheckpointException e) {
        count("close CheckpointException");
        if (!recording.current().equals(e.durable())) {
          violation(
              "close() threw CheckpointException naming "
                  + e.durable()
                  + " but the store"
                  + " holds "
                  + recording.current());
        }
      } catch (RuntimeException e) {
        violation("close() threw " + e);
      }
      try {
        threads.assertAllEnded();
      } catch (AssertionError e) {
        violation("close() returned while collector threads run: " + e.getMessage());
      }
      threadsToJoin.add(awaiter);
      for (Thread t : threadsToJoin) {
        t.join(JOIN_MILLIS);
        if (t.isAlive()) {
          hung = true;
          violation(t.getName() + " still blocked after close(): " + stackOf(t));
          t.interrupt();
        }
      }
      duplicates.add(() -> {});
      duplicator.interrupt();
      duplicator.join(JOIN_MILLIS);
      collector = null;
      try {
        recording.assertNoViolation();
      } catch (AssertionError e) {
        violation("store check: " + e.getCause());
      }
      resume();
      if (!violations.isEmpty()) {
        fail(String.join("\n", violations.subList(0, Math.min(10, violations.size()))));
      }
    }

    private static String stackOf(Thread t) {
      StringBuilder b = new StringBuilder();
      for (StackTraceElement e : t.getStackTrace()) {
        b.append("\n    at ").append(e);
      }
      return b.toString();
    }

    /** A new collector resumes at the durable checkpoint and finishes; every batch settled. */
    void resume() throws InterruptedException {
      Checkpoint durable = recording.current();
      CollectorOptions clean =
          options.toBuilder()
              .failurePolicy(FailurePolicy.failFast())
              .ackOrdering(AckOrdering.BUFFERED)
              .concurrency(0)
              .build();
      try (Collector<Long> c = Collecting.open(observed(fake(false)), recording, clean)) {
        resumeWith(c, durable);
      } catch (RuntimeException e) {
        violation("the resuming collector failed: " + e);
      }
      if (recording.current().sequence() != batches) {
        violation("after resuming, the store holds " + recording.current() + " of " + batches);
      }
      for (int s = 0; s < batches; s++) {
        if (acked.get(s) == 0 && deadLettered.get(s) == 0) {
          violation("batch " + s + " was never acknowledged or dead-lettered");
        }
      }
    }

    private void resumeWith(Collector<Long> c, Checkpoint durable) throws InterruptedException {
      boolean first = true;
      Delivery<Long> d;
      while ((d = c.next(Duration.ofSeconds(10))) != null) {
        long s = d.batch().sequence();
        if (first && s != durable.sequence()) {
          violation("a new collector resumed at batch " + s + ", not at the durable " + durable);
        }
        first = false;
        ackIntent.incrementAndGet((int) s);
        d.ack();
        acked.set((int) s, 1);
      }
      if (!c.isExhausted()) {
        violation("the resuming collector timed out; progress " + c.progress());
      } else if (first && durable.sequence() != batches) {
        violation("a new collector delivered nothing from " + durable);
      }
    }

    private @Nullable Delivery<Long> take(Collector<Long> c, SplittableRandom r)
        throws InterruptedException {
      int how = r.nextInt(10);
      if (how < 3) {
        return c.next();
      } else if (how < 7) {
        return c.next(Duration.ofMillis(r.nextInt(3)));
      } else {
        Delivery<Long> d = c.tryNext();
        if (d == null) {
          Thread.yield();
        }
        return d;
      }
    }

    private void work(Collector<Long> c, SplittableRandom r) {
      List<Delivery<Long>> pending = new ArrayList<>(); // STRICT acks that came too early
      List<Integer> pendingTries = new ArrayList<>();
      try {
        while (true) {
          for (int i = 0; i < pending.size(); i++) {
            Delivery<Long> d = pending.get(i);
            int tries = pendingTries.get(i) + 1;
            pendingTries.set(i, tries);
            boolean done = tries > 200 ? settle(d, 2, r) : settle(d, 0, r);
            if (done) {
              pending.remove(i);
              pendingTries.remove(i);
              i--;
            }
          }
          Delivery<Long> d;
          try {
            // an untimed next() only while nothing is pending: it could wait for a batch
            // that only our own pending ack lets through
            d = pending.isEmpty() ? take(c, r) : c.next(Duration.ofMillis(1));
          } catch (BatchFailedException | SourceException | CheckpointException e) {
            broken = true;
            count("next " + e.getClass().getSimpleName());
            continue;
          } catch (CollectorClosedException e) {
            count("next CollectorClosedException");
            return;
          }
          if (d == null) {
            if (c.isExhausted() && pending.isEmpty()) {
              return;
            }
            continue;
          }
          observeDelivered(c, d);
          int op = r.nextDouble() < failRate ? 1 : r.nextDouble() < abandonRate ? 2 : 0;
          if (r.nextInt(5) == 0) {
            int dupOp = r.nextInt(3);
            Delivery<Long> dup = d;
            duplicates.add(() -> settle(dup, dupOp, new SplittableRandom(dupOp)));
          }
          if (!settle(d, op, r)) {
            pending.add(d);
            pendingTries.add(0);
          }
        }
      } catch (InterruptedException e) {
        violation(Thread.currentThread().getName() + " interrupted: blocked after close()?");
      } catch (RuntimeException e) {
        violation(
            Thread.currentThread().getName() + " got an undocumented exception: " + stackTrace(e));
      }
    }

    private static String stackTrace(Throwable t) {
      var w = new java.io.StringWriter();
      t.printStackTrace(new java.io.PrintWriter(w));
      return w.toString();
    }

    private void observeDelivered(Collector<Long> c, Delivery<Long> d) {
      long s = d.batch().sequence();
      long n = obtained.incrementAndGet();
      if (!broken) {
        long unsettled = n - settleStarts.get();
        if (unsettled > limit) {
          violation("concurrency: " + unsettled + " deliveries unsettled, limit " + limit);
        }
      }
      int inFlight = c.progress().inFlight();
      if (inFlight > depth) {
        violation("G3: progress().inFlight() " + inFlight + " > depth " + depth);
      }
      long ahead = s - recording.current().sequence();
      if (ahead >= depth) {
        violation("G3: batch " + s + " delivered " + ahead + " ahead of the durable checkpoint");
      }
      note(s, "delivered attempt " + d.batch().attempt());
      if (outcomes.put(d.batch(), new Outcome()) != null) {
        violation("one Batch instance delivered twice: " + d.batch());
      }
    }

    /**
     * Settles {@code d}: op 0 ack, 1 fail, 2 close. Returns false only for a STRICT ack that came
     * too early (the caller keeps the delivery and tries again).
     */
    private boolean settle(Delivery<Long> d, int op, SplittableRandom r) {
      Outcome o = outcome(d);
      if (o.settleStarted.getAndIncrement() == 0) {
        settleStarts.incrementAndGet();
      }
      long s = d.batch().sequence();
      note(s, "op " + op + " on attempt " + d.batch().attempt());
      try {
        switch (op) {
          case 0 -> {
            ackIntent.incrementAndGet((int) s);
            try {
              if (d.ack()) {
                note(s, "ack true");
                acked.set((int) s, 1);
                o.ackTrue.incrementAndGet();
                settles.incrementAndGet();
                count("ack true");
              } else {
                count("ack false");
              }
            } finally {
              ackIntent.decrementAndGet((int) s);
            }
          }
          case 1 -> {
            if (d.fail(new IOException("injected failure of batch " + s))) {
              note(s, "fail true");
              broken = true;
              o.failTrue.incrementAndGet();
              settles.incrementAndGet();
              count("fail true");
            } else {
              count("fail false");
            }
          }
          default -> {
            broken = true; // an abandon may fail the session
            d.close();
            settles.incrementAndGet();
            count("close");
          }
        }
      } catch (OutOfOrderAckException e) {
        if (!strict) {
          violation("OutOfOrderAckException in BUFFERED mode: " + e);
        }
        count("ack OutOfOrderAckException");
        return false;
      } catch (ConflictingOutcomeException | StaleDeliveryException | CollectorClosedException e) {
        note(s, e.getClass().getSimpleName());
        count((op == 0 ? "ack " : "fail ") + e.getClass().getSimpleName());
      } catch (RuntimeException e) {
        violation(
            "op " + op + " on batch " + s + " threw an undocumented exception: " + stackTrace(e));
      }
      int wins = o.ackTrue.get() + o.failTrue.get();
      if (wins > 1 || (o.ackTrue.get() > 0 && o.deadLetters.get() > 0)) {
        violation(
            "delivery of batch "
                + s
                + " attempt "
                + d.batch().attempt()
                + " has "
                + o.ackTrue.get()
                + " winning acks, "
                + o.failTrue.get()
                + " winning fails, "
                + o.deadLetters.get()
                + " dead letters");
      }
      return true;
    }

    private void duplicate() {
      try {
        while (true) {
          Runnable task = duplicates.take();
          task.run(); // also after close(): those settles must throw cleanly
        }
      } catch (InterruptedException e) {
        for (Runnable task; (task = duplicates.poll()) != null; ) {
          task.run();
        }
      }
    }

    private void await(Collector<Long> c) {
      while (!stopping) {
        boolean brokenBefore = broken;
        long engineAcked = c.progress().acknowledged();
        long ownPrefix = ackedPrefix();
        try {
          Checkpoint got = c.awaitCommitted();
          count("awaitCommitted ok");
          if (got.sequence() > recording.current().sequence()) {
            violation(
                "awaitCommitted() returned " + got + " beyond the store's " + recording.current());
          }
          // a session that ended meanwhile voids its uncommitted acks (Collector#awaitCommitted)
          if (!brokenBefore && !broken && got.sequence() < engineAcked) {
            violation(
                "awaitCommitted() returned "
                    + got
                    + " below progress().acknowledged() "
                    + engineAcked
                    + " read before the call");
          }
          if (!brokenBefore && !broken && got.sequence() < ownPrefix) {
            violation(
                "awaitCommitted() returned "
                    + got
                    + " below the acknowledged prefix "
                    + ownPrefix
                    + " at its call");
          }
        } catch (CheckpointException e) {
          count("awaitCommitted CheckpointException");
        } catch (CollectorClosedException e) {
          count("awaitCommitted CollectorClosedException");
          return;
        } catch (InterruptedException e) {
          violation("awaitCommitted() still blocked after close()");
          return;
        } catch (RuntimeException e) {
          violation("awaitCommitted() threw an undocumented exception: " + stackTrace(e));
          return;
        }
        Thread.yield();
      }
    }
  }
}
