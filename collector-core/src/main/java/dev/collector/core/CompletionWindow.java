package dev.collector.core;

import dev.collector.Batch;
import dev.collector.Checkpoint;
import dev.collector.ConflictingOutcomeException;
import dev.collector.OutOfOrderAckException;
import dev.collector.Progress;
import dev.collector.SourceBatch;
import dev.collector.StaleDeliveryException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The bounded, ordered completion window of one run (epoch): the single source of truth for
 * which batches are fetched, running, settled and committed.
 *
 * <p>Thread-safe; every method takes one lock for O(1) work (except {@link #progress()}, which
 * scans the running batches). Blocking methods answer interrupts with {@link
 * InterruptedException}.
 */
final class CompletionWindow<T> {

  /*
   * Design notes.
   *
   * Positions (sequence numbers), always ordered
   *
   *     committed <= acked <= delivered <= fetched,   fetched - committed <= depth
   *
   *  - committed: every batch below it is durable in the store (the checkpoint's sequence).
   *  - acked:     every batch below it was acknowledged (the contiguous frontier). A commit in
   *               flight covers [committed, committing) with committing <= acked.
   *  - delivered: batches below it were handed to a handler or a pull caller.
   *  - fetched:   batches below it were read from the source.
   *
   * The ring has exactly `depth` slots; batch s lives in slot s % depth from fetch until its
   * commit is durable. Because fetched - committed <= depth, the live sequences
   * [committed, fetched) map to distinct slots, so a slot is never shared and a sequence
   * below `committed` needs no slot at all (it was acknowledged, or it could not be
   * committed). Slot state moves FREE -> FETCHED -> RUNNING -> ACKED | FAILED -> FREE; the
   * last step only by the committer, after the store confirmed the write.
   *
   * Operations are O(1): an ack writes one slot state and, when it acks the frontier, walks the
   * frontier over the already-acked run behind it (each sequence is walked once, so O(1)
   * amortised). A commit frees the slots it covers, again once per sequence. No allocation per
   * ack; the arrays are allocated once per window. The lock is held only for this bookkeeping,
   * never around user code or store I/O.
   *
   * Conditions, one per kind of waiter so a state change wakes only who can proceed:
   *  - slotFree:    the fetcher, waiting for fetched - committed < depth;
   *  - batchReady:  the dispatcher (process) or pull callers, waiting for delivered < fetched;
   *  - commitReady: the committer, waiting for acked > committed (group commit: it commits the
   *                 newest contiguous checkpoint, however many batches that covers);
   *  - changed:     drain and awaitCommitted waiters.
   * A halt (stop, failure, cancellation, end of epoch) signals all of them.
   *
   * Failures: fail() records the first failure and halts; later failures are kept as
   * suppressed unless they are interrupts caused by the halt itself. Retries of process()
   * handlers happen on the handler's own thread and never reach the window; a pull delivery
   * that fails with attempts left goes back into the window (failAttempt): its slot keeps the
   * batch, and take() serves due redeliveries before new batches. attempts[slot] counts
   * deliveries, so a settle from an earlier delivery of the same batch is told apart.
   *
   * Watchdog (timeouts, stuck batches): a handler registers its thread per attempt
   * (attemptStarted); the watchdog interrupts it under the lock and marks the slot TIMED_OUT,
   * and the handler reads and clears that mark under the lock when the attempt ends, so an
   * interrupt never lands after the attempt it was meant for.
   */

  private static final byte FREE = 0;
  private static final byte FETCHED = 1;
  private static final byte RUNNING = 2;
  private static final byte ACKED = 3;
  private static final byte FAILED = 4;
  private static final byte REDELIVER = 5; // failed with attempts left, waiting for notBefore

  private static final byte TIMED_OUT = 1; // flag bits
  private static final byte WARNED = 2;

  /** Attempt value that matches any delivery (process handlers settle their own batch). */
  static final int ANY_ATTEMPT = 0;

  /** What {@link #failAttempt} did with a failed delivery. */
  enum AttemptOutcome {
    /** Going back to be delivered again after a backoff. */
    REDELIVER,
    /** Attempts exhausted: the caller dead-letters or fails it. */
    EXHAUSTED,
    /** This delivery was already failed: nothing happened. */
    ALREADY_FAILED
  }

  /** What kind of failure halted the window. */
  enum FailureKind {
    HANDLER,
    SOURCE,
    COMMIT
  }

  /** The first failure of a run, with the later ones to attach as suppressed. */
  record Failure(FailureKind kind, long sequence, Throwable cause, List<Throwable> later) {}

  private final String name;
  private final int depth;
  private final Checkpoint start;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition slotFree = lock.newCondition();
  private final Condition batchReady = lock.newCondition();
  private final Condition commitReady = lock.newCondition();
  private final Condition changed = lock.newCondition();

  private final byte[] states;
  private final @Nullable Object[] batches; // Batch<T> from fetch until delivered
  private final @Nullable String[] tokens; // resume token after the batch, until committed
  private final int[] sizes;
  private final long[] startNanos; // when the current attempt started (delivery or handler)
  private final int[] attempts; // deliveries so far
  private final long[] notBefore; // REDELIVER slots: earliest redelivery time
  private final byte[] flags;
  private final @Nullable Thread[] runners; // process handlers, for the watchdog
  private final ArrayDeque<Long> redeliveries = new ArrayDeque<>();
  private final long stuckNanos;

  private long committed;
  private long acked;
  private long delivered;
  private long fetched;
  private Checkpoint durable;
  private int running;
  private int waiting;
  private long commits;
  private long committedRecords;
  private long deadLettered;
  private long redelivered;

  private boolean exhausted;
  private boolean halted;
  private boolean stopped;
  private boolean cancelled;
  private boolean finishing;
  private boolean ended;
  private long drainDeadline = Long.MAX_VALUE;
  private @Nullable Failure failure;

  CompletionWindow(String name, int depth, Checkpoint start) {
    this(name, depth, start, Duration.ZERO);
  }

  CompletionWindow(String name, int depth, Checkpoint start, Duration stuckThreshold) {
    this.name = name;
    this.stuckNanos = stuckThreshold.isZero() ? Long.MAX_VALUE : saturatedNanos(stuckThreshold);
    this.depth = depth;
    this.start = start;
    this.states = new byte[depth];
    this.batches = new Object[depth];
    this.tokens = new String[depth];
    this.sizes = new int[depth];
    this.startNanos = new long[depth];
    this.attempts = new int[depth];
    this.notBefore = new long[depth];
    this.flags = new byte[depth];
    this.runners = new Thread[depth];
    this.committed = start.sequence();
    this.acked = committed;
    this.delivered = committed;
    this.fetched = committed;
    this.durable = start;
  }

  Checkpoint start() {
    return start;
  }

  private int slot(long sequence) {
    return (int) (sequence % depth);
  }

  // ---- fetcher ------------------------------------------------------------------------------

  /**
   * Waits until a slot is free.
   *
   * @return how long it waited for a full window to drain (0 if it was not full), or -1 if the
   *     window halted and the fetcher should stop
   */
  long awaitSlot() throws InterruptedException {
    lock.lockInterruptibly();
    try {
      long started = 0;
      while (fetched - committed >= depth && !halted) {
        if (started == 0) {
          started = System.nanoTime();
        }
        slotFree.await();
      }
      if (halted) {
        return -1;
      }
      return started == 0 ? 0 : Math.max(1, System.nanoTime() - started);
    } finally {
      lock.unlock();
    }
  }

  /** Adds the next fetched batch; the caller saw {@link #awaitSlot()} return a slot. */
  void add(SourceBatch<T> fetchedBatch) {
    lock.lock();
    try {
      long sequence = fetched;
      if (sequence - committed >= depth) {
        throw new IllegalStateException("window of depth " + depth + " is full at " + sequence);
      }
      int i = slot(sequence);
      Batch<T> batch =
          new Batch<>(sequence, fetchedBatch.records(), fetchedBatch.resumeToken(), 1);
      states[i] = FETCHED;
      attempts[i] = 0;
      flags[i] = 0;
      batches[i] = batch;
      tokens[i] = batch.resumeToken();
      sizes[i] = batch.size();
      fetched = sequence + 1;
      batchReady.signal();
    } finally {
      lock.unlock();
    }
  }

  /** The source returned end-of-source. */
  void exhausted() {
    lock.lock();
    try {
      exhausted = true;
      batchReady.signalAll();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  long fetchedSequence() {
    lock.lock();
    try {
      return fetched;
    } finally {
      lock.unlock();
    }
  }

  // ---- delivery -----------------------------------------------------------------------------

  /**
   * Takes the next fetched batch, waiting for one.
   *
   * @return the batch, or {@code null} once the window halted or the source is exhausted and
   *     every batch was taken
   */
  @Nullable Batch<T> take() throws InterruptedException {
    return take(Long.MAX_VALUE);
  }

  /**
   * Like {@link #take()}, waiting at most {@code nanos} ({@code Long.MAX_VALUE}: for ever);
   * {@code null} also on timeout.
   */
  @Nullable Batch<T> take(long nanos) throws InterruptedException {
    long deadline = nanos == Long.MAX_VALUE ? Long.MAX_VALUE : System.nanoTime() + nanos;
    lock.lockInterruptibly();
    try {
      while (true) {
        Batch<T> batch = takeLocked();
        if (batch != null || halted || (exhausted && delivered == fetched
            && redeliveries.isEmpty())) {
          return batch;
        }
        long now = System.nanoTime();
        long wait = Math.min(deadline - now, nextRedeliveryLocked() - now);
        if (wait <= 0) {
          if (deadline - now <= 0) {
            return null;
          }
          continue; // a redelivery is due
        }
        if (wait >= Long.MAX_VALUE / 2) {
          batchReady.await();
        } else {
          batchReady.awaitNanos(wait);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private long nextRedeliveryLocked() {
    long next = Long.MAX_VALUE;
    for (long sequence : redeliveries) {
      next = Math.min(next, notBefore[slot(sequence)]);
    }
    return next;
  }

  /** Like {@link #take()}, never waiting. */
  @Nullable Batch<T> poll() {
    lock.lock();
    try {
      return takeLocked();
    } finally {
      lock.unlock();
    }
  }

  private @Nullable Batch<T> takeLocked() {
    if (halted) {
      return null;
    }
    if (!redeliveries.isEmpty()) {
      long now = System.nanoTime();
      for (var it = redeliveries.iterator(); it.hasNext(); ) {
        long sequence = it.next();
        int i = slot(sequence);
        if (notBefore[i] - now <= 0) {
          it.remove();
          Batch<T> batch = batchAt(i, sequence).nextAttempt();
          batches[i] = batch;
          return startLocked(i, batch);
        }
      }
    }
    if (delivered == fetched) {
      return null;
    }
    int i = slot(delivered);
    Batch<T> batch = batchAt(i, delivered);
    delivered++;
    return startLocked(i, batch);
  }

  private Batch<T> startLocked(int i, Batch<T> batch) {
    states[i] = RUNNING;
    attempts[i] = batch.attempt();
    startNanos[i] = System.nanoTime();
    running++;
    return batch;
  }

  @SuppressWarnings("unchecked")
  private Batch<T> batchAt(int i, long sequence) {
    Batch<T> batch = (Batch<T>) batches[i];
    if (batch == null) {
      throw new IllegalStateException("slot of batch " + sequence + " is empty");
    }
    return batch;
  }

  /** True once the source is exhausted and every fetched batch was taken. */
  boolean isExhausted() {
    lock.lock();
    try {
      return exhausted && delivered == fetched && redeliveries.isEmpty();
    } finally {
      lock.unlock();
    }
  }

  // ---- settling -----------------------------------------------------------------------------

  /**
   * Acknowledges batch {@code sequence}.
   *
   * @return {@code true} if this call acknowledged it, {@code false} if it already was
   * @throws OutOfOrderAckException if {@code strict} and an earlier batch is unacknowledged
   * @throws ConflictingOutcomeException if the batch was failed
   * @throws StaleDeliveryException if the epoch ended
   */
  boolean ack(long sequence, int attempt, boolean strict) {
    lock.lock();
    try {
      checkNotEnded(sequence, "ack()");
      if (sequence < committed) {
        return false; // committed implies acknowledged
      }
      int i = slot(sequence);
      if (attempt != ANY_ATTEMPT && attempt != attempts[i]) {
        throw new ConflictingOutcomeException(
            sequence,
            "this delivery of batch " + sequence + " of collector '" + name + "' (attempt "
                + attempt + ") was already failed, and the batch was delivered again (attempt "
                + attempts[i] + "); settle that delivery instead");
      }
      switch (states[i]) {
        case ACKED -> {
          return false;
        }
        case FAILED, REDELIVER ->
            throw new ConflictingOutcomeException(
                sequence,
                "batch " + sequence + " of collector '" + name + "' was already failed; ack()"
                    + " cannot undo that. The batch is delivered again when the next run"
                    + " starts; ack that delivery instead");
        case RUNNING -> {}
        default -> throw new IllegalStateException("batch " + sequence + " was not delivered yet");
      }
      if (strict && sequence != acked) {
        throw new OutOfOrderAckException(sequence, acked, name);
      }
      settleLocked(i, sequence);
      return true;
    } finally {
      lock.unlock();
    }
  }

  private void settleLocked(int i, long sequence) {
    states[i] = ACKED;
    running--;
    if (sequence == acked) {
      long frontier = sequence + 1;
      while (frontier < delivered && states[slot(frontier)] == ACKED) {
        frontier++;
        waiting--;
      }
      acked = frontier;
      commitReady.signal();
    } else {
      waiting++;
    }
    if (running == 0) {
      changed.signalAll();
    }
  }

  /**
   * Settles a batch that a dead-letter handler took: it counts as acknowledged.
   *
   * @throws StaleDeliveryException if the epoch ended meanwhile
   */
  void deadLettered(long sequence) {
    lock.lock();
    try {
      checkNotEnded(sequence, "fail()");
      int i = slot(sequence);
      if (sequence >= committed && states[i] == RUNNING) {
        deadLettered++;
        settleLocked(i, sequence);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * A pull delivery failed: decides between redelivery and exhaustion without failing the run.
   *
   * @param attempt the delivery's attempt
   * @param maxAttempts attempts allowed in all
   * @param backoffNanos delay before the redelivery
   * @return what happened
   * @throws ConflictingOutcomeException if the batch was acknowledged
   * @throws StaleDeliveryException if the epoch ended
   */
  AttemptOutcome failAttempt(long sequence, int attempt, int maxAttempts, long backoffNanos) {
    lock.lock();
    try {
      checkNotEnded(sequence, "fail()");
      checkNotAckedLocked(sequence);
      int i = slot(sequence);
      if (attempt != attempts[i] || states[i] != RUNNING) {
        return AttemptOutcome.ALREADY_FAILED;
      }
      if (attempt >= maxAttempts || halted) {
        return AttemptOutcome.EXHAUSTED;
      }
      states[i] = REDELIVER;
      running--;
      redelivered++;
      notBefore[i] = System.nanoTime() + backoffNanos;
      redeliveries.add(sequence);
      batchReady.signal();
      if (running == 0) {
        changed.signalAll();
      }
      return AttemptOutcome.REDELIVER;
    } finally {
      lock.unlock();
    }
  }

  private void checkNotAckedLocked(long sequence) {
    if (sequence < committed || states[slot(sequence)] == ACKED) {
      throw new ConflictingOutcomeException(
          sequence,
          "batch " + sequence + " of collector '" + name + "' was already acknowledged;"
              + " fail() cannot undo an ack. Call fail() instead of ack() for a batch that"
              + " was not handled");
    }
  }

  /**
   * Fails batch {@code sequence}; the first failure halts the window.
   *
   * @return {@code true} if this call failed it, {@code false} if it already was failed
   * @throws ConflictingOutcomeException if the batch was acknowledged
   * @throws StaleDeliveryException if the epoch ended
   */
  boolean fail(long sequence, Throwable cause) {
    lock.lock();
    try {
      checkNotEnded(sequence, "fail()");
      checkNotAckedLocked(sequence);
      int i = slot(sequence);
      if (states[i] == FAILED) {
        return false;
      }
      if (states[i] != RUNNING) {
        throw new IllegalStateException("batch " + sequence + " was not delivered yet");
      }
      states[i] = FAILED;
      running--;
      recordFailureLocked(FailureKind.HANDLER, sequence, cause);
      if (running == 0) {
        changed.signalAll();
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** True if batch {@code sequence} was delivered and is not yet acknowledged or failed. */
  boolean isRunning(long sequence, int attempt) {
    lock.lock();
    try {
      int i = slot(sequence);
      return !ended && sequence >= committed && states[i] == RUNNING && attempts[i] == attempt;
    } finally {
      lock.unlock();
    }
  }

  private void checkNotEnded(long sequence, String call) {
    if (ended) {
      Failure f = failure;
      String why = f == null ? "the run ended" : "batch " + f.sequence() + " failed";
      throw new StaleDeliveryException(
          sequence,
          call + " of batch " + sequence + " of collector '" + name + "' came after its run"
              + " ended (" + why + "); the batch is delivered again by the next run: settle"
              + " that delivery instead");
    }
  }

  /** Records a failure that is not a batch's: the source's or the store's. Halts the window. */
  void failRun(FailureKind kind, long sequence, Throwable cause) {
    lock.lock();
    try {
      recordFailureLocked(kind, sequence, cause);
    } finally {
      lock.unlock();
    }
  }

  private void recordFailureLocked(FailureKind kind, long sequence, Throwable cause) {
    if (failure != null) {
      if (!causedByInterrupt(cause)) {
        failure.later().add(cause);
      }
    } else if (!(cancelled || (halted && causedByInterrupt(cause)))) {
      // After a cancellation, failures are its echo (interrupted handlers, a closed channel),
      // not failures of their own: the batches stay unacknowledged and are delivered again.
      failure = new Failure(kind, sequence, cause, new ArrayList<>());
      haltLocked();
    }
  }

  /**
   * Whether {@code t} is, or was caused by, an interrupt: {@link InterruptedException}, or the
   * I/O forms of it ({@link java.nio.channels.ClosedByInterruptException}, {@link
   * java.io.InterruptedIOException}).
   */
  static boolean causedByInterrupt(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof InterruptedException
          || c instanceof java.nio.channels.ClosedByInterruptException
          || c instanceof java.io.InterruptedIOException) {
        return true;
      }
    }
    return false;
  }

  // ---- watchdog -----------------------------------------------------------------------------

  /** A handler attempt of batch {@code sequence} starts on the current thread. */
  void attemptStarted(long sequence) {
    lock.lock();
    try {
      int i = slot(sequence);
      runners[i] = Thread.currentThread();
      startNanos[i] = System.nanoTime();
    } finally {
      lock.unlock();
    }
  }

  /**
   * The attempt started by {@link #attemptStarted} ended.
   *
   * @return whether the watchdog timed it out (and interrupted the thread)
   */
  boolean attemptEnded(long sequence) {
    lock.lock();
    try {
      int i = slot(sequence);
      runners[i] = null;
      boolean timedOut = (flags[i] & TIMED_OUT) != 0;
      flags[i] &= (byte) ~TIMED_OUT;
      return timedOut;
    } finally {
      lock.unlock();
    }
  }

  /**
   * One watchdog pass: interrupts handler attempts older than {@code timeoutNanos} and reports
   * batches older than the stuck threshold, once per batch.
   *
   * @return a warning per newly stuck batch (empty almost always)
   */
  List<String> watch(long timeoutNanos) {
    List<String> warnings = List.of();
    lock.lock();
    try {
      long now = System.nanoTime();
      for (long s = acked; s < delivered; s++) {
        int i = slot(s);
        if (states[i] != RUNNING) {
          continue;
        }
        long age = now - startNanos[i];
        Thread runner = runners[i];
        if (runner != null && age >= timeoutNanos && (flags[i] & TIMED_OUT) == 0) {
          flags[i] |= TIMED_OUT;
          runner.interrupt();
        }
        if (age >= stuckNanos && (flags[i] & WARNED) == 0) {
          flags[i] |= WARNED;
          if (warnings.isEmpty()) {
            warnings = new ArrayList<>();
          }
          warnings.add(
              "collector '" + name + "': batch " + s + " has been running for "
                  + Duration.ofNanos(age).toMillis() + " ms (attempt " + attempts[i]
                  + (runner == null ? "" : ", thread " + runner.getName())
                  + "); it holds back the checkpoint and " + (delivered - s - 1)
                  + " later batches");
        }
      }
      return warnings;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits {@code nanos} or until the committer is told to finish.
   *
   * @return {@code false} once finishing
   */
  boolean awaitWatchdogTick(long nanos) throws InterruptedException {
    lock.lockInterruptibly();
    try {
      long remaining = nanos;
      while (!finishing && remaining > 0) {
        remaining = changed.awaitNanos(remaining);
      }
      return !finishing;
    } finally {
      lock.unlock();
    }
  }

  // ---- control ------------------------------------------------------------------------------

  /**
   * Stops fetching and delivering; running batches may still settle.
   *
   * @param drain how long running batches may take to settle before the owner interrupts them
   * @return {@code false} if the window had already halted
   */
  boolean stop(Duration drain) {
    lock.lock();
    try {
      if (halted) {
        return false;
      }
      long now = System.nanoTime();
      long nanos = saturatedNanos(drain);
      drainDeadline = nanos >= Long.MAX_VALUE - now ? Long.MAX_VALUE : now + nanos;
      stopped = true;
      haltLocked();
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Cancels: halts without a drain period. Failures reported from now on are the cancellation's
   * echo and are not recorded.
   */
  void cancel() {
    lock.lock();
    try {
      drainDeadline = System.nanoTime();
      cancelled = true;
      haltLocked();
    } finally {
      lock.unlock();
    }
  }

  private void haltLocked() {
    halted = true;
    slotFree.signalAll();
    batchReady.signalAll();
    changed.signalAll();
  }

  /** Ends the epoch: later settles throw {@link StaleDeliveryException}. Halts the window. */
  void end() {
    lock.lock();
    try {
      ended = true;
      cancelled = true;
      haltLocked();
    } finally {
      lock.unlock();
    }
  }

  /** Tells the committer to commit what is acknowledged and exit. */
  void finish() {
    lock.lock();
    try {
      finishing = true;
      commitReady.signalAll();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  boolean isCancelled() {
    lock.lock();
    try {
      return cancelled;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until every delivered batch settled, the window failed, or the drain deadline set by
   * {@link #stop(Duration)} passed.
   *
   * @return {@code true} if every delivered batch settled
   */
  boolean awaitDrained() throws InterruptedException {
    lock.lockInterruptibly();
    try {
      while (running > 0 && failure == null) {
        if (drainDeadline == Long.MAX_VALUE) {
          changed.await();
        } else {
          long nanos = drainDeadline - System.nanoTime();
          if (nanos <= 0) {
            return false;
          }
          changed.awaitNanos(nanos);
        }
      }
      return running == 0;
    } finally {
      lock.unlock();
    }
  }

  // ---- committer ----------------------------------------------------------------------------

  /**
   * Waits for something to commit.
   *
   * @return the newest contiguous checkpoint, or {@code null} when the committer should exit
   *     (finishing with nothing left, or a commit failed)
   */
  @Nullable Checkpoint awaitCommittable() throws InterruptedException {
    lock.lockInterruptibly();
    try {
      while (acked == committed) {
        if (finishing || (failure != null && failure.kind() == FailureKind.COMMIT)) {
          return null;
        }
        commitReady.await();
      }
      String token = tokens[slot(acked - 1)];
      if (token == null) {
        throw new IllegalStateException("no resume token for batch " + (acked - 1));
      }
      return new Checkpoint(acked, token);
    } finally {
      lock.unlock();
    }
  }

  /** The store confirmed {@code checkpoint}: free its slots and let the fetcher continue. */
  void committed(Checkpoint checkpoint) {
    lock.lock();
    try {
      long to = checkpoint.sequence();
      for (long s = committed; s < to; s++) {
        int i = slot(s);
        states[i] = FREE;
        tokens[i] = null;
        batches[i] = null;
        committedRecords += sizes[i];
      }
      committed = to;
      durable = checkpoint;
      commits++;
      slotFree.signal();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the contiguous acknowledged prefix at the time of the call is committed.
   *
   * @return the durable checkpoint; on return after a commit failure or the end of the epoch
   *     it may cover less, and {@link #failure()} tells why
   */
  Checkpoint awaitCommitted() throws InterruptedException {
    lock.lockInterruptibly();
    try {
      long target = acked;
      while (committed < target
          && !(failure != null && failure.kind() == FailureKind.COMMIT)
          && !ended) {
        changed.await();
      }
      return durable;
    } finally {
      lock.unlock();
    }
  }

  // ---- snapshots ----------------------------------------------------------------------------

  Checkpoint durable() {
    lock.lock();
    try {
      return durable;
    } finally {
      lock.unlock();
    }
  }

  @Nullable Failure failure() {
    lock.lock();
    try {
      return failure;
    } finally {
      lock.unlock();
    }
  }

  /** The run's totals. */
  record Totals(
      long batches,
      long records,
      long commits,
      long uncommitted,
      boolean stopped,
      long deadLettered,
      long redelivered) {}

  Totals totals() {
    lock.lock();
    try {
      return new Totals(
          committed - start.sequence(),
          committedRecords,
          commits,
          fetched - committed,
          stopped,
          deadLettered,
          redelivered);
    } finally {
      lock.unlock();
    }
  }

  Progress progress() {
    lock.lock();
    try {
      long now = System.nanoTime();
      long oldest = 0;
      int stuck = 0;
      for (long s = acked; s < delivered; s++) {
        int i = slot(s);
        if (states[i] == RUNNING) {
          long age = now - startNanos[i];
          oldest = Math.max(oldest, age);
          if (age >= stuckNanos) {
            stuck++;
          }
        }
      }
      return new Progress(
          fetched,
          acked,
          committed,
          (int) (fetched - committed),
          running,
          waiting,
          depth,
          Duration.ofNanos(oldest),
          stuck);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public String toString() {
    return name + " " + progress();
  }

  /** {@code d} in nanoseconds, saturated to the range of a long. */
  static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException overflow) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
