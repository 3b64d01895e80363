package dev.collector.kafka;

import dev.collector.Batch;
import dev.collector.BatchAbandonedException;
import dev.collector.CollectorClosedException;
import dev.collector.ConflictingOutcomeException;
import dev.collector.DeadLetterHandler;
import dev.collector.Delivery;
import dev.collector.MisuseException;
import dev.collector.StaleDeliveryException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jspecify.annotations.Nullable;

/** A batch handed out by {@link KafkaCollector#next}: settled once, on the handle. */
final class PulledDelivery<K, V> implements Delivery<ConsumerRecord<K, V>> {

  /*
   * Invariant: the unit is settled in the window at most once, by the first ack() or fail() that
   * wins the `outcome` race; a settle that finds the unit's epoch over (partition revoked or lost,
   * session ended) commits nothing and throws StaleDeliveryException -- the partition's next owner
   * (or the next session) delivers the batch again. If the collector was closed before the settle
   * began, it throws CollectorClosedException instead (Delivery: against close() a settle counts
   * or throws CollectorClosedException); a fail() whose dead-letter handler was running when the
   * session ended throws StaleDeliveryException (Delivery.fail).
   */

  private static final int OPEN = 0;
  private static final int ACKED = 1;
  private static final int FAILED = 2;

  private final String collector;
  private final Window window;
  private final WorkUnit unit;
  private final Batch<ConsumerRecord<K, V>> batch;
  private final @Nullable DeadLetterHandler deadLetter;
  private final AtomicInteger outcome = new AtomicInteger(OPEN);
  private final BooleanSupplier collectorClosed;

  @SuppressWarnings("unchecked") // the poll loop only puts this collector's records in units
  PulledDelivery(
      String collector,
      Window window,
      WorkUnit unit,
      @Nullable DeadLetterHandler deadLetter,
      BooleanSupplier collectorClosed) {
    this.collectorClosed = collectorClosed;
    this.collector = collector;
    this.window = window;
    this.unit = unit;
    Object b = UnitHandler.asBatch(unit, 1);
    this.batch = (Batch<ConsumerRecord<K, V>>) b;
    this.deadLetter = deadLetter;
  }

  @Override
  public Batch<ConsumerRecord<K, V>> batch() {
    return batch;
  }

  @Override
  public boolean ack() {
    if (!outcome.compareAndSet(OPEN, ACKED)) {
      if (outcome.get() == ACKED) {
        return false;
      }
      throw new ConflictingOutcomeException(
          unit.firstOffset,
          "ack() of "
              + describe()
              + " after it was failed; a batch is settled once: ack() or fail(), not both");
    }
    if (!window.settlePulled(unit, true, false, null)) {
      throw stale("ack()", collectorClosed.getAsBoolean());
    }
    return true;
  }

  @Override
  public boolean fail(Throwable cause) {
    if (!outcome.compareAndSet(OPEN, FAILED)) {
      if (outcome.get() == FAILED) {
        return false;
      }
      throw new ConflictingOutcomeException(
          unit.firstOffset,
          "fail() of "
              + describe()
              + " after it was acknowledged; a batch is settled once: ack() or fail(), not both");
    }
    boolean closedBefore = collectorClosed.getAsBoolean();
    boolean settled;
    if (deadLetter != null) {
      Throwable dlqFailure = null;
      try {
        deadLetter.deadLetter(batch, cause);
      } catch (Exception e) {
        e.addSuppressed(cause);
        dlqFailure = e;
      }
      settled = window.settlePulled(unit, dlqFailure == null, dlqFailure == null, dlqFailure);
    } else {
      settled = window.settlePulled(unit, false, false, cause);
    }
    if (!settled) {
      // closed while the dead-letter handler ran: stale (Delivery.fail's javadoc); closed
      // before this call: CollectorClosedException
      throw stale("fail()", deadLetter == null ? collectorClosed.getAsBoolean() : closedBefore);
    }
    return true;
  }

  @Override
  public void close() {
    if (outcome.get() == OPEN) {
      try {
        fail(new BatchAbandonedException(collector, unit.firstOffset));
      } catch (StaleDeliveryException | CollectorClosedException | ConflictingOutcomeException e) {
        // the epoch ended (delivered again anyway) or another thread settled it just now
      }
    }
  }

  /** After close(): CollectorClosedException, as Delivery's javadoc says; else stale. */
  private MisuseException stale(String call, boolean closed) {
    if (closed) {
      return new CollectorClosedException(
          unit.firstOffset,
          call
              + " of "
              + describe()
              + " came after the collector was closed; nothing was committed for it and the group's"
              + " next consumer delivers it again. Settle deliveries before close()");
    }
    return new StaleDeliveryException(
        unit.firstOffset,
        call
            + " of "
            + describe()
            + " came after its partition was revoked or lost, or its pull session ended; nothing was"
            + " committed for it and its next owner delivers it again. Settle that delivery instead");
  }

  private String describe() {
    return "batch "
        + unit.firstOffset
        + " ("
        + unit.track.partition
        + ", offsets "
        + unit.firstOffset
        + ".."
        + (unit.endOffset - 1)
        + ") of collector '"
        + collector
        + "'";
  }
}
