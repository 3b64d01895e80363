package dev.collector.kafka;

import dev.collector.BatchFailedException;
import dev.collector.Checkpoint;
import dev.collector.CheckpointException;
import dev.collector.ProcessSummary;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.jspecify.annotations.Nullable;

/** One run: the poll thread that owns the consumer, dispatches, pauses, commits and rebalances. */
final class PollLoop<K, V> {

  /*
   * Invariant: the KafkaConsumer is touched by this thread only (the thread that called process);
   * handlers see records, never the consumer. Everything that changes which offsets the group
   * holds -- commits, revoke commits, fencing -- happens here, between polls or inside the
   * rebalance callbacks (Rebalances) that poll runs, so a commit and a fence never race.
   *
   * Phases: RUNNING dispatches; STOPPING (stop(), close()) dispatches nothing more, lets running
   * handlers finish until the drain deadline, then interrupts them; CANCELLING (a failure, an
   * interrupt) interrupts at once. In every phase the loop keeps polling -- with every partition
   * paused -- so the member stays in the group, heartbeats and takes part in rebalances while it
   * waits. When the window is full the partitions are paused the same way, and resumed once an
   * eighth of the depth is free again (a little hysteresis, so a single free slot does not fetch
   * a whole poll only to seek most of it back). While paused for room the thread does not sleep
   * in poll: it waits on the window until committing would free that eighth, commits right then
   * and resumes, and polls without waiting -- so a unit handled while the window is full does
   * not also wait out a poll timeout or the commit interval before its slot is used again.
   *
   * A poll can return more than the window has room for; what does not fit is not kept: the
   * partition is seeked back to the first record left out and fetched again later. That keeps
   * depth a hard bound on what the collector holds (Kafka's own fetch buffer aside).
   */

  private static final System.Logger LOG = System.getLogger(KafkaCollector.class.getName());
  private static final long LAG_EVERY_NANOS = Duration.ofMillis(200).toNanos();

  private enum Phase {
    RUNNING,
    STOPPING,
    CANCELLING
  }

  private final String name;
  private final Consumer<K, V> consumer;
  private final KafkaCollectorOptions options;
  private final @Nullable Ordering ordering;
  private final Window window;
  private final Committer committer;
  private final int resumeAt;
  private final Rebalances rebalances;

  private final boolean pull;
  private volatile boolean commitNow;
  private volatile boolean stopRequested;
  private volatile boolean stopNow;
  private volatile boolean cancelled;
  private Phase phase = Phase.RUNNING;
  private long drainDeadline;
  private boolean handlersInterrupted;
  private boolean interrupted;
  private boolean pausedForRoom;
  private long nextCommit;
  private long nextLag;
  private @Nullable RecordDeserializationException poisoned; // kafka-fix: see PoisonPill
  private long poisonDeadline;

  PollLoop(
      String name,
      String bootstrap,
      Consumer<K, V> consumer,
      KafkaCollectorOptions options,
      @Nullable Ordering ordering,
      int depth,
      boolean pull,
      Committer.CommitObserver observer,
      KafkaTelemetry telemetry) {
    this.name = name;
    this.pull = pull;
    this.consumer = consumer;
    this.options = options;
    this.ordering = ordering;
    this.window = new Window(depth);
    this.committer =
        new Committer(
            name, consumer, window, options.commitRetry(), options.commitTimeout(), observer);
    this.resumeAt = Math.max(1, depth / 8);
    this.rebalances =
        new Rebalances(name, window, committer, options.revokeDrainTimeout(), telemetry);
  }

  Window window() {
    return window;
  }

  Committer committer() {
    return committer;
  }

  /** Pull API: commit the handled prefixes at the next turn instead of after the interval. */
  void commitSoon() {
    commitNow = true;
  }

  void requestStop(boolean now) {
    stopNow |= now;
    stopRequested = true;
  }

  /** Whether stop() or close() asked this run to end (Startup checks it between slices). */
  boolean stopRequested() {
    return stopRequested;
  }

  ProcessSummary run(UnitHandler handler, int concurrency, Object owner)
      throws InterruptedException {
    long started = System.nanoTime(); // the topics were checked first (Startup)
    if (options.pattern() != null) {
      consumer.subscribe(options.pattern(), rebalances);
    } else {
      consumer.subscribe(options.topics(), rebalances);
    }
    RuntimeException error = null;
    HandlerThreads threads =
        new HandlerThreads(
            name, window, handler, options.failurePolicy(), owner, () -> cancelled, concurrency);
    try {
      loop();
    } catch (RuntimeException e) { // a commit failed for good, or the consumer did
      error = e;
      cancel();
    } finally {
      threads.close(); // every handler thread has ended after this
    }
    if (error == null) {
      error = finalCommit();
    }
    if (error == null && poisoned != null) { // kafka-fix: PoisonPill without a dead letter
      error = PoisonPill.failure(name, poisoned, committer.checkpoint());
    }
    long uncommitted = window.totals().uncommitted();
    leaveGroup();
    interrupted |= rebalances.takeInterrupted();
    if (interrupted) {
      Thread.currentThread().interrupt();
      throw new InterruptedException(
          "collector '"
              + name
              + "' was interrupted; committed "
              + committer.durableToken()
              + (error == null ? "" : "; also: " + error));
    }
    Window.Failure failure = window.failure();
    WorkUnit failed = failure == null ? null : failure.unit();
    if (failure != null && failed != null) {
      TopicPartition tp = failed.track.partition;
      throw new BatchFailedException(
          name + "', partition '" + tp,
          failed.firstOffset,
          failure.cause(),
          new Checkpoint(Math.max(0, committer.durableOffset(tp)), committer.durableToken()));
    }
    if (error != null) {
      throw error;
    }
    if (failure != null && failure.cause() instanceof RuntimeException e) {
      throw e; // a commit in a revoke callback failed
    }
    Window.Totals totals = window.totals();
    return ProcessSummary.builder()
        .batches(totals.committed())
        .records(totals.committedRecords())
        .commits(committer.commits())
        .duration(Duration.ofNanos(System.nanoTime() - started))
        .stopped(stopRequested)
        .uncommitted(uncommitted)
        .deadLettered(totals.deadLettered())
        .checkpoint(committer.checkpoint())
        .build();
  }

  private void loop() throws InterruptedException {
    while (true) {
      interrupted |= rebalances.takeInterrupted(); // a wait inside a callback was interrupted
      if (Thread.interrupted() || (interrupted && phase != Phase.CANCELLING)) {
        onInterrupt(); // the thread, or a wait inside a rebalance callback, was interrupted
      }
      if (window.failure() != null && phase != Phase.CANCELLING) {
        cancel();
      }
      if (poisoned != null
          && phase == Phase.RUNNING
          && (window.totals().uncommitted() == 0 || System.nanoTime() - poisonDeadline >= 0)) {
        stopRequested = true; // kafka-fix: what came before the poison pill is committed; end
      }
      if (phase == Phase.RUNNING && stopRequested) {
        phase = Phase.STOPPING;
        window.drain();
        drainDeadline = System.nanoTime() + options.drainTimeout().toNanos();
      }
      if (phase != Phase.RUNNING) {
        if (pull) {
          window.abandonPulled(); // the session ends: unsettled deliveries are delivered again
        }
        if (window.totals().running() == 0) {
          return;
        }
        if (!handlersInterrupted && (stopNow || System.nanoTime() - drainDeadline >= 0)) {
          cancelled = true; // kafka-fix: before the interrupt, so Attempts sees it is the run's
          window.interruptRunning(null);
          handlersInterrupted = true;
        }
      }
      ConsumerRecords<K, V> records;
      try {
        Duration wait = awaitRoom();
        pauseOrResume();
        records = consumer.poll(wait);
      } catch (InterruptException e) {
        Thread.interrupted();
        onInterrupt();
        continue;
      } catch (InterruptedException e) {
        onInterrupt();
        continue;
      } catch (RecordDeserializationException e) { // a poison pill (PoisonPill)
        poisoned(e);
        continue;
      }
      if (!records.isEmpty()) {
        dispatch(records);
      }
      updateLag();
      try {
        maybeCommit();
      } catch (InterruptedException e) {
        onInterrupt();
      }
    }
  }

  /** kafka-fix: a record the deserializer could not read (see PoisonPill). */
  private void poisoned(RecordDeserializationException e) {
    TopicPartition tp = e.topicPartition();
    if (options.failurePolicy().deadLetter() == null || pull) {
      if (poisoned == null) {
        poisoned = e;
        poisonDeadline = System.nanoTime() + options.drainTimeout().toNanos();
      }
      return;
    }
    PartitionTrack track = window.live(tp);
    if (track != null && phase == Phase.RUNNING && window.room() > 0) {
      window.dispatch(List.of(PoisonPill.unit(track, e, ordering))); // to the dead-letter handler
      consumer.seek(tp, e.offset() + 1);
    } // else not now: the partition is paused or revoked, and the pill is polled again later
  }

  private void onInterrupt() {
    interrupted = true;
    if (phase != Phase.CANCELLING) {
      cancel();
    }
  }

  private void cancel() {
    phase = Phase.CANCELLING;
    cancelled = true;
    window.drain();
    window.interruptRunning(null);
    handlersInterrupted = true;
  }

  /**
   * Paused for room: waits (instead of in a poll of paused partitions) until committing the handled
   * units would let the partitions resume, then commits at once rather than at the next interval,
   * so a handled unit frees its slot within about one commit round trip.
   *
   * @return how long the poll that follows may wait for records
   */
  private Duration awaitRoom() throws InterruptedException {
    if (phase != Phase.RUNNING || !pausedForRoom) {
      return options.pollTimeout();
    }
    long deadline = System.nanoTime() + options.pollTimeout().toNanos();
    if (window.awaitRoom(resumeAt, deadline)) {
      commitNow = true;
      maybeCommit();
    }
    return Duration.ZERO; // the wait above was this turn's; poll only for the group's sake
  }

  private void pauseOrResume() {
    Set<TopicPartition> assigned = consumer.assignment();
    if (assigned.isEmpty()) {
      return;
    }
    int room = window.room();
    if (phase != Phase.RUNNING || room <= 0 || poisoned != null) {
      pausedForRoom = true;
      consumer.pause(assigned);
    } else if (pausedForRoom && room >= resumeAt) {
      pausedForRoom = false;
      consumer.resume(consumer.paused());
    }
  }

  /**
   * Cuts the poll into units and hands those that fit to the window in one call (one hold of its
   * lock per poll, not per unit: the handlers contend with the poll thread for that lock). Only
   * this thread raises the window's count, so the room read once here can only grow until the
   * dispatch.
   */
  private void dispatch(ConsumerRecords<K, V> records) {
    int room = phase == Phase.RUNNING && poisoned == null ? window.room() : 0;
    List<WorkUnit> units = new ArrayList<>();
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<K, V>> list = records.records(tp);
      PartitionTrack track = window.live(tp);
      int i = 0;
      while (i < list.size()) {
        if (track == null || room <= 0) {
          if (consumer.assignment().contains(tp)) {
            consumer.seek(tp, list.get(i).offset()); // not kept: fetched again when there is room
          }
          break;
        }
        int end = cut(list, i);
        List<ConsumerRecord<K, V>> part = list.subList(i, end);
        Object lane = ordering == null ? null : Lanes.laneOf(ordering, track, part.get(0));
        WorkUnit unit = new WorkUnit(track, part, lane);
        units.add(unit);
        room -= unit.units;
        i = end;
      }
    }
    window.dispatch(units);
  }

  /** The end (exclusive) of the unit starting at {@code from}. */
  private int cut(List<ConsumerRecord<K, V>> list, int from) {
    if (ordering != null) {
      return from + 1;
    }
    long bytes = 0;
    int end = from;
    while (end < list.size() && end - from < options.maxBatchRecords()) {
      ConsumerRecord<K, V> r = list.get(end);
      bytes += Math.max(0, r.serializedKeySize()) + Math.max(0, r.serializedValueSize());
      if (end > from && bytes > options.maxBatchBytes()) {
        break;
      }
      end++;
    }
    return end;
  }

  private void updateLag() {
    long now = System.nanoTime();
    if (now - nextLag < 0) {
      return;
    }
    nextLag = now + LAG_EVERY_NANOS;
    for (TopicPartition tp : consumer.assignment()) {
      PartitionTrack track = window.live(tp);
      OptionalLong lag = consumer.currentLag(tp);
      if (track == null || lag.isEmpty()) {
        continue;
      }
      try {
        long position = consumer.position(tp, Duration.ZERO);
        if (track.fetched < 0 && track.start < 0) {
          track.start = position; // nothing dispatched: where the epoch starts (group's offset)
        }
        track.endOffset = position + lag.getAsLong();
      } catch (KafkaException e) {
        // position unknown right now (just assigned or reset); try again next time
      }
    }
  }

  private void maybeCommit() throws InterruptedException {
    long now = System.nanoTime();
    if (phase == Phase.RUNNING && window.room() > 0 && now - nextCommit < 0 && !commitNow) {
      return;
    }
    commitNow = false;
    nextCommit = now + options.commitInterval().toNanos();
    committer.commit(window.commitPoints(null));
  }

  private @Nullable RuntimeException finalCommit() {
    boolean wasInterrupted = Thread.interrupted();
    interrupted |= wasInterrupted;
    for (int tries = 0; ; tries++) {
      try {
        committer.commit(window.commitPoints(null));
        return null;
      } catch (CheckpointException e) {
        return e;
      } catch (InterruptedException e) {
        interrupted = true; // commit the acknowledged prefix all the same, then report it
        if (tries > 0) {
          return null;
        }
      }
    }
  }

  private void leaveGroup() {
    try {
      consumer.unsubscribe(); // runs onPartitionsRevoked: nothing runs, so it only fences
    } catch (InterruptException e) {
      Thread.interrupted();
      interrupted = true;
    } catch (KafkaException e) {
      LOG.log(Level.WARNING, "{0}: leaving the group failed: {1}", name, e.toString());
    }
  }
}
