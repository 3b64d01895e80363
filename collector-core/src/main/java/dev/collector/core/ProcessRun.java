package dev.collector.core;

import dev.collector.Batch;
import dev.collector.BatchHandler;
import dev.collector.Checkpoint;
import dev.collector.ProcessSummary;
import dev.collector.Progress;
import dev.collector.SourceBatch;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * One {@code process} run: the owner thread that fetches, starts a handler thread per batch and
 * ends the run. Invariant: the owner is the only thread that fetches, starts handlers and moves the
 * lifecycle to FINALIZING; it does so only after every handler thread has terminated.
 */
final class ProcessRun<T> {

  /*
   * Threads (all virtual):
   *
   *   caller  ── joins ──▶ <name>-owner: fetches, starts handlers, drains, finalizes
   *                          ├─ scope: <name>-committer, <name>-watchdog (if configured)
   *                          └─ an unnamed handler thread per batch (BatchRunner)
   *
   * The owner fetches and starts handlers itself, like Gatherers.mapConcurrent: no relay
   * between a fetcher and a dispatcher. It waits (Wakeup) only when the window is full (the
   * committer wakes it after a commit), when `concurrency` handlers run (an exiting handler
   * wakes it), or at the end for the handlers to finish. A handler's completion never waits for
   * the owner: it settles its slot in the ring and wakes the committer if it moved the frontier.
   *
   * The caller's thread only starts the owner and joins it. Its interrupt is turned into
   * lifecycle.interrupt(), so every interrupt the owner ever receives is the run's own: the one
   * that stops a blocked fetch when the lifecycle leaves RUNNING (see Fetcher). The owner can
   * therefore clear its interrupt status freely, and the final commit never sees an interrupt
   * (G9).
   */

  private final RunContext<T> context;
  private final BatchHandler<T> handler;
  private final SlotRing ring;
  private final Lifecycle lifecycle;
  private final Committer committer;
  private final HandlerExits exits;
  private final @Nullable Watchdog watchdog;
  private final int concurrency;
  private final Thread owner;
  private final Wakeup ownerWakeup;
  private final Fetcher<T> fetcher;
  private final AtomicLong deadLettered = new AtomicLong();
  private final Thread.Builder.OfVirtual handlerThreads;

  /** The owner is parked in awaitRoom on a full window: a frontier move should wake it. */
  private volatile boolean waitingForRoom;

  private volatile @Nullable Throwable ownerFailure;
  private volatile boolean exhausted;
  private final long startedNanos = System.nanoTime();

  ProcessRun(RunContext<T> context, int depth, Checkpoint start, BatchHandler<T> handler) {
    this.context = context;
    this.handler = handler;
    this.ring = new SlotRing(depth, start);
    this.concurrency = context.options().concurrencyFor(depth);
    this.owner = Thread.ofVirtual().name(context.name() + "-owner").unstarted(this::own);
    this.ownerWakeup = new Wakeup(owner);
    this.lifecycle = new Lifecycle(this::lifecycleChanged);
    this.committer = new Committer(context, ring, lifecycle, ownerWakeup::wake);
    this.fetcher = new Fetcher<>(context, ring, lifecycle, ownerWakeup);
    this.exits = new HandlerExits(ownerWakeup);
    this.watchdog =
        Watchdog.of(
            context.name(),
            ring,
            context.options().stuckThreshold(),
            context.options().batchTimeout());
    // Unnamed: naming a thread per batch cost ~8 % of the no-op CPU profile and ~140 B per
    // batch. Stuck reports name the batch; thread dumps show the BatchRunner frames.
    this.handlerThreads = Thread.ofVirtual();
  }

  RunContext<T> context() {
    return context;
  }

  SlotRing ring() {
    return ring;
  }

  Lifecycle lifecycle() {
    return lifecycle;
  }

  Committer committer() {
    return committer;
  }

  HandlerExits exits() {
    return exits;
  }

  BatchHandler<T> handler() {
    return handler;
  }

  /** The watchdog, if handler attempts must register with it for timeouts. */
  @Nullable Watchdog timeouts() {
    Watchdog w = watchdog;
    return w != null && w.hasTimeout() ? w : null;
  }

  void deadLettered() {
    deadLettered.incrementAndGet();
  }

  /**
   * The batch that {@code thread} runs for this run, or -1 (the re-entrancy check; O(in-flight),
   * paid only by calls that would otherwise be refused as concurrent use).
   */
  long batchRunBy(Thread thread) {
    long to = ring.fetched();
    for (long s = ring.acked(); s < to; s++) {
      if (ring.thread(s) == thread) {
        return s;
      }
    }
    return -1;
  }

  /**
   * Whether {@code t} is one of this run's own threads (owner, committer, watchdog, a handler):
   * from there, a call that waits for the run would wait for itself.
   */
  boolean runsOn(Thread t) {
    Watchdog w = watchdog;
    return t == owner || committer.runsOn(t) || (w != null && w.runsOn(t)) || batchRunBy(t) >= 0;
  }

  private void lifecycleChanged() {
    ownerWakeup.wake();
    fetcher.interruptIfFetching();
  }

  // ---- the caller's side ----------------------------------------------------------------------

  /**
   * Runs on the calling thread: starts the owner and waits for it; an interrupt of the caller
   * cancels the run (G5), which still ends only after its final commit (G9).
   */
  ProcessSummary run() throws InterruptedException {
    owner.start();
    boolean interrupted = false;
    while (true) {
      try {
        owner.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
        lifecycle.interrupt();
      }
    }
    Throwable defect = ownerFailure;
    Lifecycle.Failure failure = lifecycle.failure();
    Checkpoint durable = ring.durable();
    if (interrupted) {
      Thread.currentThread().interrupt(); // G5: the caller keeps its interrupt status
    }
    if (lifecycle.wasInterrupted()) {
      InterruptedException e =
          new InterruptedException(
              "process() of collector '"
                  + context.name()
                  + "' was interrupted; committed"
                  + " through sequence "
                  + durable.sequence()
                  + " ("
                  + durable
                  + ")");
      if (failure != null) {
        e.addSuppressed(context.toException(failure, durable, lifecycle.laterFailures()));
      }
      if (defect != null) {
        e.addSuppressed(defect);
      }
      throw e;
    }
    if (failure != null) {
      RuntimeException e = context.toException(failure, durable, lifecycle.laterFailures());
      if (defect != null) {
        e.addSuppressed(defect);
      }
      throw e;
    }
    if (defect instanceof RuntimeException r) {
      throw r;
    }
    if (defect instanceof Error err) {
      throw err;
    }
    if (defect != null) {
      throw new IllegalStateException(
          "process() of collector '"
              + context.name()
              + "' ended by a defect; committed through"
              + " sequence "
              + durable.sequence(),
          defect);
    }
    return ProcessSummary.builder()
        .batches(ring.committed() - ring.start().sequence())
        .records(ring.committedRecords())
        .commits(committer.commits())
        .duration(Duration.ofNanos(System.nanoTime() - startedNanos))
        // stopped: stop() or close() ended the run before it finished the source and committed
        // everything it had fetched (having read the end of the source is not enough)
        .stopped(lifecycle.wasStopped() && !(exhausted && ring.committed() == ring.fetched()))
        .uncommitted(ring.fetched() - ring.committed())
        .deadLettered(deadLettered.get())
        .checkpoint(durable)
        .build();
  }

  /** Asks the run to stop gracefully; see {@link dev.collector.Collector#stop()}. */
  boolean stop(Duration drain) {
    return lifecycle.stop(RunContext.saturatedNanos(drain));
  }

  Progress progress() {
    long acked = ring.acked();
    long running = exits.running();
    long waiting = ring.fetched() - acked - running;
    return ring.progress(running, waiting, context.options().stuckThreshold());
  }

  // ---- the owner ----------------------------------------------------------------------------

  private void own() {
    try (StructuredScope scope = new StructuredScope()) {
      scope.fork(
          context.name() + "-committer",
          () -> {
            committer.run();
            return null;
          });
      Watchdog w = watchdog;
      if (w != null) {
        scope.fork(
            context.name() + "-watchdog",
            () -> {
              w.run();
              return null;
            });
      }
      try {
        fetchAndStart();
      } catch (Throwable t) { // a defect or an Error in our own code: end the run cleanly
        ownerFailure = t;
        lifecycle.cancel();
      }
      drain();
      lifecycle.finalizing();
      committer.finish();
      if (w != null) {
        w.stop();
      }
      Thread.interrupted(); // only the run interrupts the owner, and only to stop a fetch
      try {
        scope.join();
      } catch (InterruptedException e) {
        throw new IllegalStateException("the owner of a process() run was interrupted", e);
      }
    } catch (Throwable t) {
      Throwable first = ownerFailure;
      if (first == null) {
        ownerFailure = t;
      } else {
        first.addSuppressed(t);
      }
    } finally {
      lifecycle.done();
    }
  }

  /** Fetches and starts handlers until the source ends or the lifecycle leaves RUNNING. */
  private void fetchAndStart() {
    try {
      while (awaitRoom()) {
        SourceBatch<T> next = fetcher.fetch();
        if (next == null) {
          exhausted = fetcher.exhausted();
          return;
        }
        start(next);
      }
    } finally {
      fetcher.close();
    }
  }

  private void start(SourceBatch<T> fetched) {
    long sequence = ring.add(fetched.resumeToken(), fetched.records().size());
    Batch<T> batch = Batch.of(sequence, fetched.records(), fetched.resumeToken(), 1);
    Thread thread = handlerThreads.unstarted(new BatchRunner<>(this, batch));
    ring.running(sequence, thread);
    exits.started();
    try {
      thread.start();
    } catch (Throwable t) {
      exits.notStarted();
      ring.stoppedRunning(sequence);
      throw t;
    }
  }

  /**
   * Waits until a batch may be fetched: a free slot and fewer than {@code concurrency} running
   * handlers.
   *
   * @return false once the lifecycle left RUNNING
   */
  private boolean awaitRoom() {
    long waitedSince = 0;
    Telemetry.@Nullable WindowFullEvent event = null;
    while (true) {
      if (!lifecycle.isRunning()) {
        return false;
      }
      boolean room = ring.hasRoom();
      if (room && exits.running() < concurrency) {
        if (waitedSince != 0) {
          context.telemetry().windowFull(event, Math.max(1, System.nanoTime() - waitedSince));
        }
        return true;
      }
      if (!room && waitedSince == 0) {
        waitedSince = System.nanoTime();
        event = Telemetry.beginWindowFull();
      }
      if (!room) {
        if (committer.commitOnCaller()) {
          continue; // only a commit gives room: make it here rather than wake the committer
        }
        committer.windowFull(); // a lingering committer (commitInterval) must not stall the run
      }
      ownerWakeup.arm();
      waitingForRoom = !room;
      if (lifecycle.isRunning() && !(ring.hasRoom() && exits.running() < concurrency)) {
        ownerWakeup.park();
      }
      waitingForRoom = false;
      ownerWakeup.disarm();
      // A frontier move that woke us rather than the committer is committed at the top of the
      // loop (commitOnCaller), by the committer if it holds the store, or, if the run is
      // leaving RUNNING, by the final commit: nothing to hand on here.
    }
  }

  /**
   * A handler moved the frontier. While the owner waits for room, only a commit helps it, and it
   * commits itself (commitOnCaller): wake the owner, not the committer — one hand-off instead of
   * two. Otherwise wake the committer.
   */
  void frontierMoved() {
    if (waitingForRoom) {
      ownerWakeup.wake();
    } else {
      committer.wake();
    }
  }

  /**
   * For {@link dev.collector.Collector#awaitCommitted()} during a run: waits until the settled
   * prefix at the time of the call is committed, the run ended, or a commit failed. Rarely used, so
   * it polls rather than making every commit signal waiters.
   */
  Checkpoint awaitCommitted() throws InterruptedException {
    long target = ring.acked();
    while (ring.committed() < target
        && !committer.failed()
        && lifecycle.state() != Lifecycle.State.DONE) {
      committer.wake();
      java.util.concurrent.locks.LockSupport.parkNanos(this, 200_000);
      if (Thread.interrupted()) {
        throw new InterruptedException(
            "awaitCommitted() on collector '" + context.name() + "' was interrupted");
      }
    }
    if (committer.failed() && ring.committed() < target) {
      throw context.toException(committer.failure(), ring.durable(), java.util.List.of());
    }
    return ring.durable();
  }

  /**
   * Waits for every handler to end: without a limit after the end of the source, until the drain
   * deadline after stop(), then interrupting them (CANCELLING). A handler that ignores its
   * interrupt keeps the run waiting (G4 wins; the watchdog reports it as stuck).
   */
  private void drain() {
    boolean interruptsSent = false;
    while (exits.running() > 0) {
      Lifecycle.State state = lifecycle.state();
      long deadline = lifecycle.drainDeadline();
      if (state == Lifecycle.State.STOPPING
          && lifecycle.drainBounded()
          && System.nanoTime() - deadline >= 0) {
        lifecycle.cancel();
        continue;
      }
      if (lifecycle.isCancelling() && !interruptsSent) {
        interruptsSent = true;
        interruptRunning();
        continue;
      }
      ownerWakeup.arm();
      if (exits.running() > 0 && lifecycle.state() == state) {
        if (state == Lifecycle.State.STOPPING && lifecycle.drainBounded()) {
          ownerWakeup.parkNanos(Math.max(0, deadline - System.nanoTime()));
        } else {
          ownerWakeup.park();
        }
      }
      ownerWakeup.disarm();
    }
    exits.awaitTerminated();
  }

  private void interruptRunning() {
    long to = ring.fetched();
    for (long s = ring.acked(); s < to; s++) {
      Thread t = ring.thread(s);
      if (t != null) {
        t.interrupt();
      }
    }
  }
}
