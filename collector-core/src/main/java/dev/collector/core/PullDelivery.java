package dev.collector.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.collector.Batch;
import dev.collector.BatchAbandonedException;
import dev.collector.CollectorClosedException;
import dev.collector.CollectorListener.Outcome;
import dev.collector.ConflictingOutcomeException;
import dev.collector.DeadLetterHandler;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.MisuseException;
import dev.collector.OutOfOrderAckException;
import dev.collector.StaleDeliveryException;
import java.lang.System.Logger.Level;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The pull API's handle on one delivery of one batch. Invariant: exactly one outcome wins —
 * acknowledged, redelivered, dead-lettered or failed — whatever calls race; see {@link Delivery}
 * for what each call does when it loses.
 */
final class PullDelivery<T> implements Delivery<T> {

  /*
   * The outcome is decided under the session lock, so a settle is atomic with the STRICT check
   * and with the session's fence. Only the dead-letter handler runs outside the lock: fail()
   * first claims the delivery (DEAD_LETTERING), so a concurrent ack() throws
   * ConflictingOutcomeException and a concurrent fail() or close() returns without effect; then
   * it runs the handler, then it settles under the lock — unless the session was fenced in the
   * meantime, in which case the batch is delivered again by the next session and fail() says so
   * with StaleDeliveryException.
   */

  private enum State {
    OPEN,
    ACKED,
    DEAD_LETTERING,
    DEAD_LETTERED,
    REDELIVERED,
    FAILED
  }

  private final PullSession<T> session;
  private final Batch<T> batch;
  private final BooleanSupplier collectorClosed;
  private final long deliveredAt = System.nanoTime();
  private final Telemetry.@Nullable BatchHandledEvent event = Telemetry.beginHandled();

  @GuardedBy("session.lock")
  private State state = State.OPEN;

  PullDelivery(PullSession<T> session, Batch<T> batch) {
    this.session = session;
    this.batch = batch;
    this.collectorClosed = session.context().closedCheck();
  }

  @Override
  public Batch<T> batch() {
    return batch;
  }

  private String name() {
    return session.context().name();
  }

  @Override
  public boolean ack() {
    try {
      return ackOrThrow();
    } catch (MisuseException e) {
      session.context().telemetry().misuse(e);
      throw e;
    }
  }

  private boolean ackOrThrow() {
    long sequence = batch.sequence();
    boolean moved;
    session.lock.lock();
    try {
      switch (state) {
        case ACKED -> {
          return false;
        }
        case OPEN -> {}
        default -> throw alreadyFailed("ack()");
      }
      checkUsable("ack()");
      if (session.strict() && sequence != session.ring().acked()) {
        throw new OutOfOrderAckException(sequence, session.ring().acked(), name());
      }
      state = State.ACKED;
      moved = session.settled(sequence);
    } finally {
      session.lock.unlock();
    }
    if (moved) {
      session.committer().wake();
    }
    Telemetry telemetry = session.context().telemetry();
    telemetry.handled(
        event, sequence, batch.size(), System.nanoTime() - deliveredAt, Outcome.SUCCESS);
    telemetry.acknowledged(sequence, batch.size());
    return true;
  }

  @Override
  public boolean fail(Throwable cause) {
    try {
      return failOrThrow(cause);
    } catch (MisuseException e) {
      session.context().telemetry().misuse(e);
      throw e;
    }
  }

  private boolean failOrThrow(Throwable cause) {
    Objects.requireNonNull(cause, "cause must not be null: pass why the batch failed");
    long sequence = batch.sequence();
    FailurePolicy policy = session.context().options().failurePolicy();
    Telemetry telemetry = session.context().telemetry();
    DeadLetterHandler deadLetter;
    boolean redelivered = false;
    session.lock.lock();
    try {
      switch (state) {
        case ACKED ->
            throw new ConflictingOutcomeException(
                sequence,
                "batch "
                    + sequence
                    + " of collector '"
                    + name()
                    + "' was already"
                    + " acknowledged; fail() cannot undo an ack. Call fail() instead of ack()"
                    + " for a batch that was not handled");
        case OPEN -> {}
        default -> {
          return false;
        }
      }
      checkUsable("fail()");
      if (!session.lifecycle().isRunning()) {
        state = State.FAILED; // the session failed already: no retry, no dead letter
        session.failed(sequence);
        session.lifecycle().deliveryFailed(sequence, cause, null);
        deadLetter = null;
      } else if (batch.attempt() < policy.retry().maxAttempts()) {
        state = State.REDELIVERED;
        long backoff =
            RunContext.saturatedNanos(
                policy.retry().delay(batch.attempt(), ThreadLocalRandom.current()));
        session.redeliver(batch, backoff);
        redelivered = true;
        deadLetter = null;
      } else {
        deadLetter = policy.deadLetter();
        if (deadLetter == null) {
          state = State.FAILED;
          session.failed(sequence);
          session.lifecycle().deliveryFailed(sequence, cause, null);
        } else {
          state = State.DEAD_LETTERING;
        }
      }
    } finally {
      session.lock.unlock();
    }
    if (deadLetter == null) {
      telemetry.handled(
          event, sequence, batch.size(), System.nanoTime() - deliveredAt, Outcome.FAILURE);
      if (redelivered) {
        telemetry.retried(sequence);
      }
      return true;
    }
    // Claimed (DEAD_LETTERING): from here on whatever throws settles the delivery as failed.
    Throwable deadLetterFailure = null;
    try {
      telemetry.handled(
          event, sequence, batch.size(), System.nanoTime() - deliveredAt, Outcome.FAILURE);
      deadLetter.deadLetter(batch, cause);
    } catch (Throwable t) {
      deadLetterFailure = t;
    }
    boolean moved;
    session.lock.lock();
    try {
      if (deadLetterFailure != null) {
        state = State.FAILED;
        session.failed(sequence);
        RunContext.log(
            Level.WARNING,
            "collector '"
                + name()
                + "': the dead-letter handler threw for batch "
                + sequence
                + "; the pull session ends as with fail-fast",
            deadLetterFailure);
        session.lifecycle().deliveryFailed(sequence, deadLetterFailure, cause);
        return true;
      }
      if (session.fenced()) {
        state = State.FAILED;
        session.failed(sequence);
        if (collectorClosed.getAsBoolean()) {
          throw closed("fail()");
        }
        throw stale("fail()", "while its dead-letter handler ran");
      }
      state = State.DEAD_LETTERED;
      moved = session.settled(sequence);
    } finally {
      session.lock.unlock();
    }
    if (moved) {
      session.committer().wake();
    }
    telemetry.deadLettered(sequence);
    RunContext.log(
        Level.WARNING,
        "collector '"
            + name()
            + "': batch "
            + sequence
            + " dead-lettered after "
            + batch.attempt()
            + " attempt(s): "
            + cause);
    return true;
  }

  @Override
  public void close() {
    session.lock.lock();
    try {
      if (state != State.OPEN || collectorClosed.getAsBoolean() || session.fenced()) {
        return; // settled, or its run is over: the batch is delivered again anyway
      }
    } finally {
      session.lock.unlock();
    }
    try {
      fail(new BatchAbandonedException(name(), batch.sequence()));
    } catch (MisuseException settledMeanwhile) {
      // acknowledged, closed or fenced by another thread since the check: nothing to abandon
    }
  }

  @GuardedBy("session.lock")
  private void checkUsable(String call) {
    if (collectorClosed.getAsBoolean()) {
      throw closed(call);
    }
    if (session.fenced()) {
      throw stale(call, "");
    }
  }

  private CollectorClosedException closed(String call) {
    long sequence = batch.sequence();
    return new CollectorClosedException(
        sequence,
        call
            + " of batch "
            + sequence
            + " on collector '"
            + name()
            + "' after close(). Open a"
            + " new collector on the same checkpoint store; it resumes at the committed"
            + " checkpoint and delivers batch "
            + sequence
            + " again");
  }

  private StaleDeliveryException stale(String call, String when) {
    long sequence = batch.sequence();
    var failure = session.lifecycle().failure();
    String why =
        failure == null
            ? "the session ended"
            : failure.sequence() == sequence && failure.kind() == Lifecycle.Kind.HANDLER
                ? "this batch failed"
                : "batch " + failure.sequence() + " failed";
    return new StaleDeliveryException(
        sequence,
        call
            + " of batch "
            + sequence
            + " of collector '"
            + name()
            + "' came after its pull"
            + " session ended ("
            + why
            + ")"
            + (when.isEmpty() ? "" : " " + when)
            + "; the"
            + " batch is delivered again by the next session: settle that delivery instead");
  }

  @GuardedBy("session.lock")
  private ConflictingOutcomeException alreadyFailed(String call) {
    long sequence = batch.sequence();
    String what =
        switch (state) {
          case REDELIVERED ->
              "was already failed and is delivered again (attempt "
                  + (batch.attempt() + 1)
                  + "); settle that delivery instead";
          case DEAD_LETTERING -> "is being dead-lettered by a concurrent fail()";
          case DEAD_LETTERED -> "was already failed and dead-lettered";
          default ->
              "was already failed; it is delivered again when the next session starts,"
                  + " ack that delivery instead";
        };
    return new ConflictingOutcomeException(
        sequence,
        call + " of batch " + sequence + " of collector '" + name() + "': this delivery " + what);
  }

  @Override
  public String toString() {
    return "Delivery["
        + name()
        + " batch "
        + batch.sequence()
        + ", attempt "
        + batch.attempt()
        + ", "
        + batch.size()
        + " records]";
  }
}
