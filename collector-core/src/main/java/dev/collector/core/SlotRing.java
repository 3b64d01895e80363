package dev.collector.core;

import dev.collector.Checkpoint;
import dev.collector.Progress;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * The bounded ring of one run's in-flight batches and its three positions. Invariant: {@code
 * committed <= acked <= fetched <= committed + depth}, and {@code acked} only passes a batch that
 * was settled.
 *
 * <p>Thread-safe without locks. {@link #add} is called by one thread at a time (the run's fetcher),
 * {@link #committed} by one thread at a time (the committer); {@link #settle} by any thread, once
 * per batch.
 */
final class SlotRing {

  /*
   * Design notes.
   *
   * Batch s lives in slot s % depth from fetch until its commit is durable. Because fetched -
   * committed <= depth, the live sequences map to distinct slots. A slot's "settled" word holds
   * the sequence that settled there (or -1): a state tagged with its sequence, so a stale value
   * left by the slot's previous batch can never be mistaken for the current one (no ABA, no
   * reset on reuse).
   *
   * Settling is one volatile store of the sequence into the slot, then advance(): while the
   * slot at the frontier holds the frontier's sequence, CAS the frontier one further. Any
   * thread may advance; the settle store and the frontier CAS are both sequentially consistent,
   * so of two racing threads (A settles s+1 while B moves the frontier to s+1) at least one sees
   * the other's write: either A sees frontier == s+1 and advances, or B sees slot s+1 settled.
   * No settled batch is ever left behind the frontier.
   *
   * Happens-before: a handler's actions precede its settle store; the thread that reads that
   * slot then CASes the frontier; the committer reads the frontier and then the slot's token.
   * So actions in a handler happen-before the commit that covers its batch.
   *
   * Per slot, beside the tag: the resume token and record count (written by the fetcher before
   * the batch is handed out, read by the committer), the current attempt's start time (for
   * progress and the watchdog; opaque reads, a snapshot) and the running thread (for
   * cancellation and the re-entrancy check). A settled slot drops its thread and never held
   * the records: the handler's own stack holds them, so a finished batch waiting for an
   * earlier one costs only its token (G11).
   */

  private static final VarHandle ACKED;
  private static final VarHandle COMMITTED;
  private static final VarHandle FETCHED;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      ACKED = lookup.findVarHandle(SlotRing.class, "acked", long.class);
      COMMITTED = lookup.findVarHandle(SlotRing.class, "committed", long.class);
      FETCHED = lookup.findVarHandle(SlotRing.class, "fetched", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int depth;
  private final Checkpoint start;
  private final AtomicLongArray settled;
  private final AtomicLongArray startedAt;
  private final AtomicReferenceArray<@Nullable Thread> threads;
  private final @Nullable String[] tokens;
  private final int[] sizes;

  @SuppressWarnings("UnusedVariable") // accessed through ACKED
  private volatile long acked;

  @SuppressWarnings("UnusedVariable") // accessed through COMMITTED
  private volatile long committed;

  @SuppressWarnings("UnusedVariable") // accessed through FETCHED
  private volatile long fetched;

  private volatile Checkpoint durable;
  private final AtomicLong committedRecords = new AtomicLong();

  SlotRing(int depth, Checkpoint start) {
    this.depth = depth;
    this.start = start;
    this.settled = new AtomicLongArray(depth);
    for (int i = 0; i < depth; i++) {
      settled.setPlain(i, -1);
    }
    this.startedAt = new AtomicLongArray(depth);
    this.threads = new AtomicReferenceArray<>(depth);
    this.tokens = new String[depth];
    this.sizes = new int[depth];
    this.acked = start.sequence();
    this.committed = start.sequence();
    this.fetched = start.sequence();
    this.durable = start;
  }

  int depth() {
    return depth;
  }

  Checkpoint start() {
    return start;
  }

  int slot(long sequence) {
    return (int) (sequence % depth);
  }

  long fetched() {
    return (long) FETCHED.getVolatile(this);
  }

  /**
   * {@link #fetched()} for the fetching thread, its only writer: a plain read, so that reporting
   * the sequence of a fetched batch adds no volatile read to the hot path.
   */
  long fetchedByFetcher() {
    return (long) FETCHED.get(this);
  }

  long acked() {
    return (long) ACKED.getVolatile(this);
  }

  long committed() {
    return (long) COMMITTED.getVolatile(this);
  }

  Checkpoint durable() {
    return durable;
  }

  long committedRecords() {
    return committedRecords.get();
  }

  /** Whether a batch may be fetched now: fewer than {@code depth} batches are uncommitted. */
  boolean hasRoom() {
    return fetched() - committed() < depth;
  }

  // ---- fetcher ------------------------------------------------------------------------------

  /**
   * Adds the next fetched batch. Only the fetching thread calls this, after {@link #hasRoom()}.
   *
   * @return its sequence
   */
  long add(String resumeToken, int size) {
    long sequence = fetched();
    if (sequence - committed() >= depth) {
      throw new IllegalStateException("ring of depth " + depth + " is full at " + sequence);
    }
    int i = slot(sequence);
    tokens[i] = resumeToken;
    sizes[i] = size;
    FETCHED.setVolatile(this, sequence + 1);
    return sequence;
  }

  // ---- running batches ----------------------------------------------------------------------

  /** Records the thread that runs batch {@code sequence}, before it starts. */
  void running(long sequence, Thread thread) {
    threads.setRelease(slot(sequence), thread);
  }

  /** Batch {@code sequence} started an attempt (a handler attempt or a delivery) now. */
  void attemptStarted(long sequence, long nanoTime) {
    startedAt.setOpaque(slot(sequence), nanoTime == 0 ? 1 : nanoTime);
  }

  /** The thread running batch {@code sequence}, if it is still running. */
  @Nullable Thread thread(long sequence) {
    return threads.getAcquire(slot(sequence));
  }

  /** When the current attempt of batch {@code sequence} started, or 0 if it is not running. */
  long attemptStart(long sequence) {
    return startedAt.getOpaque(slot(sequence));
  }

  /** Batch {@code sequence} no longer runs (settled, or given up by a cancelled run). */
  void stoppedRunning(long sequence) {
    int i = slot(sequence);
    startedAt.setOpaque(i, 0);
    threads.setRelease(i, null);
  }

  /** Whether batch {@code sequence} was settled (it may already be committed). */
  boolean isSettled(long sequence) {
    return sequence < committed() || settled.get(slot(sequence)) == sequence;
  }

  /**
   * Settles batch {@code sequence}: it may be committed once every earlier batch is. Called at most
   * once per batch.
   *
   * @return whether this call moved the acknowledged frontier
   */
  boolean settle(long sequence) {
    stoppedRunning(sequence);
    settled.set(slot(sequence), sequence);
    return advance();
  }

  private boolean advance() {
    boolean moved = false;
    while (true) {
      long frontier = acked();
      if (settled.get(slot(frontier)) != frontier) {
        return moved;
      }
      if (ACKED.compareAndSet(this, frontier, frontier + 1)) {
        moved = true;
      }
    }
  }

  /**
   * A snapshot of this ring for {@link dev.collector.Collector#progress()}; lock-free, each number
   * read once (positions in the order that keeps {@code committed <= acked <= fetched}).
   *
   * @param running batches running, as the run counts them
   * @param waiting batches settled behind an unsettled one, as the run counts them
   */
  Progress progress(long running, long waiting, Duration stuckThreshold) {
    long c;
    long a;
    long f;
    do { // committed unchanged around the reads: then f <= c + depth and c <= a <= f held
      c = committed();
      a = acked();
      f = fetched();
    } while (committed() != c);
    long inWindow = f - a;
    long r = Math.max(0, Math.min(running, inWindow));
    long w = Math.max(0, Math.min(waiting, inWindow - r));
    long now = System.nanoTime();
    long stuckNanos =
        stuckThreshold.isZero() ? Long.MAX_VALUE : RunContext.saturatedNanos(stuckThreshold);
    long oldest = 0;
    int stuck = 0;
    for (long s = a; s < f; s++) {
      long started = startedAt.getOpaque(slot(s));
      if (started != 0) {
        long age = now - started;
        oldest = Math.max(oldest, age);
        if (age >= stuckNanos) {
          stuck++;
        }
      }
    }
    return Progress.builder()
        .fetched(f)
        .acknowledged(a)
        .committed(c)
        .inFlight((int) (f - c))
        .running((int) r)
        .waiting((int) w)
        .capacity(depth)
        .oldestRunning(Duration.ofNanos(oldest))
        .stuck(stuck)
        .build();
  }

  // ---- committer ----------------------------------------------------------------------------

  /**
   * The checkpoint after batch {@code sequence - 1}, for a commit up to (excluding) {@code
   * sequence}. Only the committer calls this, for {@code committed < sequence <= acked}.
   */
  Checkpoint checkpointAt(long sequence) {
    String token = tokens[slot(sequence - 1)];
    if (token == null) {
      throw new IllegalStateException("no resume token for batch " + (sequence - 1));
    }
    return new Checkpoint(sequence, token);
  }

  /** The store confirmed {@code checkpoint}: free the slots it covers. Committer only. */
  void committed(Checkpoint checkpoint) {
    long from = committed();
    long to = checkpoint.sequence();
    long records = 0;
    for (long s = from; s < to; s++) {
      int i = slot(s);
      tokens[i] = null;
      records += sizes[i];
    }
    committedRecords.addAndGet(records);
    durable = checkpoint;
    COMMITTED.setVolatile(this, to);
  }
}
