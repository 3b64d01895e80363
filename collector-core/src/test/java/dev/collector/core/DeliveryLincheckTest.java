package dev.collector.core;

import dev.collector.Batch;
import dev.collector.Checkpoint;
import dev.collector.CollectorOptions;
import dev.collector.ConflictingOutcomeException;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model checks the settle operations of the pull API's {@link Delivery} ({@link PullDelivery}):
 * {@code ack()}, {@code fail(cause)} and {@code close()} racing on one delivery and across two
 * deliveries of one pull session, under Lincheck's model-checking mode.
 *
 * <p>Property: exactly one outcome wins per delivery. Each operation returns what the call did
 * ({@code "true"}, {@code "false"}, or the simple name of what it threw), and Lincheck checks that
 * every concurrent history is explained by some sequential order of the calls on {@link Model}, the
 * sequential specification written from {@link Delivery}'s javadoc: the first of ack/fail wins and
 * returns true; the same outcome again returns false; the other outcome throws {@link
 * ConflictingOutcomeException}; close() on an unsettled delivery fails it, and otherwise does
 * nothing. So ack returns true at most once, fail returns true at most once, never both. The
 * validation function checks, at the end of each scenario, that the dead-letter handler ran at most
 * once per delivery, and exactly once iff the delivery was failed (dead-letter policy on).
 *
 * <p>Each scenario starts from a pull session as {@code next()} opens it (the collector's own
 * RunContext, Telemetry, PullSession over a list source and an in-memory store) with two batches
 * delivered, but the session's threads are not started: Lincheck's model checker must control every
 * thread that touches the state, and the committer and fetcher are virtual threads it cannot (with
 * them running, an ack's wake-up of the committer ran into the virtual-thread scheduler's internals
 * and Lincheck reported a hung, non-deterministic execution). The settle code under test is the
 * same: PullDelivery, the session lock, the ring, the lifecycle.
 */
@Tag("lincheck")
class DeliveryLincheckTest {

  /*
   * The collector logs each dead letter at WARNING; formatting a log record's time initializes
   * java.time's zone rules, which fails under Lincheck's instrumentation. Silenced here; the
   * strong reference keeps the setting (loggers are weakly held).
   */
  private static final Logger COLLECTOR_LOG = Logger.getLogger(RunContext.LOG.getName());

  static {
    COLLECTOR_LOG.setLevel(Level.OFF);
  }

  @Test
  void deadLetterOn() {
    check(DeadLetterOn.class);
  }

  @Test
  void retryThenFail() {
    check(RetryThenFail.class);
  }

  private static void check(Class<? extends Deliveries> scenario) {
    new ModelCheckingOptions()
        .iterations(5)
        .invocationsPerIteration(200)
        .threads(2)
        .actorsPerThread(2)
        .actorsBefore(0)
        .actorsAfter(1)
        .sequentialSpecification(Model.class)
        .check(scenario);
  }

  /** failFast().thenDeadLetter(..): a failed delivery is dead-lettered, the session goes on. */
  public static final class DeadLetterOn extends Deliveries {
    public DeadLetterOn() {
      super(true, FailurePolicy.failFast());
    }
  }

  /** retry(..) with no dead letter: a failed delivery is delivered again after a backoff. */
  public static final class RetryThenFail extends Deliveries {
    public RetryThenFail() {
      super(false, FailurePolicy.retry(Retry.of(3, Duration.ofSeconds(1), Duration.ofSeconds(1))));
    }
  }

  /** The concurrent side: two deliveries of one pull session, and their settle calls. */
  public abstract static class Deliveries {

    private final boolean deadLetter;
    private final Delivery<String> d0;
    private final Delivery<String> d1;

    /** How often the dead-letter handler ran, per sequence. */
    private final AtomicIntegerArray deadLettered = new AtomicIntegerArray(2);

    /** How many fail() and close() calls returned normally having failed it (fail true). */
    private final AtomicIntegerArray failWon = new AtomicIntegerArray(2);

    private final AtomicIntegerArray ackWon = new AtomicIntegerArray(2);
    private final AtomicIntegerArray closed = new AtomicIntegerArray(2);

    Deliveries(boolean deadLetter, FailurePolicy policy) {
      this.deadLetter = deadLetter;
      FailurePolicy p =
          deadLetter
              ? policy.thenDeadLetter(
                  (batch, cause) -> deadLettered.incrementAndGet((int) batch.sequence()))
              : policy;
      CollectorOptions options =
          CollectorOptions.builder().name("lincheck").depth(4).failurePolicy(p).build();
      RunContext<String> context =
          new RunContext<>(
              Collecting.listSource(List.of(List.of("a"), List.of("b"))),
              Collecting.inMemoryStore(),
              options,
              new Telemetry(options.name()),
              () -> false);
      // A pull session as next() opens it, but not started: the batches are put in the ring
      // and handed out here, as its fetcher and take() would, so no background thread runs.
      PullSession<String> session = new PullSession<>(context, Checkpoint.INITIAL);
      this.d0 = deliver(session, "a");
      this.d1 = deliver(session, "b");
    }

    private static Delivery<String> deliver(PullSession<String> session, String record) {
      long sequence = session.ring().add(record, 1);
      return new PullDelivery<>(session, Batch.of(sequence, List.of(record), record, 1));
    }

    @Operation
    public String ack0() {
      return ack(0, d0);
    }

    @Operation
    public String fail0() {
      return fail(0, d0);
    }

    @Operation
    public String close0() {
      return close(0, d0);
    }

    @Operation
    public String ack1() {
      return ack(1, d1);
    }

    @Operation
    public String fail1() {
      return fail(1, d1);
    }

    @Operation
    public String close1() {
      return close(1, d1);
    }

    private String ack(int i, Delivery<String> d) {
      try {
        boolean won = d.ack();
        if (won) {
          ackWon.incrementAndGet(i);
        }
        return String.valueOf(won);
      } catch (RuntimeException e) {
        return e.getClass().getSimpleName();
      }
    }

    private String fail(int i, Delivery<String> d) {
      try {
        boolean won = d.fail(new IllegalStateException("handler failed"));
        if (won) {
          failWon.incrementAndGet(i);
        }
        return String.valueOf(won);
      } catch (RuntimeException e) {
        return e.getClass().getSimpleName();
      }
    }

    private String close(int i, Delivery<String> d) {
      try {
        d.close();
        closed.incrementAndGet(i);
        return "closed";
      } catch (RuntimeException e) {
        return e.getClass().getSimpleName();
      }
    }

    /** After every call returned: one winner per delivery, one dead letter per failure. */
    @Validate
    public void oneOutcomePerDelivery() {
      for (int i = 0; i < 2; i++) {
        int acks = ackWon.get(i);
        int fails = failWon.get(i);
        int letters = deadLettered.get(i);
        if (acks > 1 || fails > 1 || acks + fails > 1) {
          throw new AssertionError(
              "delivery " + i + ": ack() returned true " + acks + "x, fail() " + fails + "x");
        }
        if (letters > 1) {
          throw new AssertionError("delivery " + i + " dead-lettered " + letters + " times");
        }
        if (!deadLetter && letters != 0) {
          throw new AssertionError("delivery " + i + " dead-lettered without a handler");
        }
        if (deadLetter && acks == 1 && letters != 0) {
          throw new AssertionError("delivery " + i + " both acknowledged and dead-lettered");
        }
        if (deadLetter && fails == 1 && letters != 1) {
          throw new AssertionError("delivery " + i + " failed but dead-lettered " + letters + "x");
        }
        if (deadLetter && letters == 1 && fails == 0 && closed.get(i) == 0) {
          throw new AssertionError("delivery " + i + " dead-lettered by no call");
        }
      }
    }
  }

  /**
   * The sequential specification, from {@link Delivery}'s javadoc; the same for both policies (what
   * a failure leads to differs, not who wins): per delivery, the first of ack/fail (or close, which
   * fails it) wins; the same call again returns false; the other one throws
   * ConflictingOutcomeException; close() after either does nothing.
   */
  public static final class Model {
    private enum State {
      OPEN,
      ACKED,
      FAILED
    }

    private final State[] states = {State.OPEN, State.OPEN};

    public Model() {}

    public String ack0() {
      return ack(0);
    }

    public String fail0() {
      return fail(0);
    }

    public String close0() {
      return close(0);
    }

    public String ack1() {
      return ack(1);
    }

    public String fail1() {
      return fail(1);
    }

    public String close1() {
      return close(1);
    }

    private String ack(int i) {
      return switch (states[i]) {
        case OPEN -> {
          states[i] = State.ACKED;
          yield "true";
        }
        case ACKED -> "false";
        case FAILED -> ConflictingOutcomeException.class.getSimpleName();
      };
    }

    private String fail(int i) {
      return switch (states[i]) {
        case OPEN -> {
          states[i] = State.FAILED;
          yield "true";
        }
        case FAILED -> "false";
        case ACKED -> ConflictingOutcomeException.class.getSimpleName();
      };
    }

    private String close(int i) {
      if (states[i] == State.OPEN) {
        states[i] = State.FAILED;
      }
      return "closed";
    }
  }
}
